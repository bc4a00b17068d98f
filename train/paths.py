"""Where the bundled defaults live (``seeds/``, ``labels/``): used by the CLI and by library code
that falls back to them (e.g. strict held-out vectors default to the bundled corpus)."""

from __future__ import annotations

from pathlib import Path


def project_root() -> Path:
    """The checkout this package lives in (for the bundled defaults)."""
    return Path(__file__).resolve().parents[1]


def default_path(name: str) -> Path:
    """A bundled folder or file (``seeds``, ``labels``, ``labels/topics.yaml``): the one in the working
    directory if it exists there, else the checkout's."""
    here = Path(name)
    return here if here.exists() else project_root() / name


def to_stdout(path: Path | str | None) -> bool:
    """No output path, or ``-``: standard output (as ``--input -`` is standard input)."""
    return path is None or str(path) == "-"
