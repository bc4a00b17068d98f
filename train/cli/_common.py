"""Shared helpers for CLI commands: output, defaults."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def project_root() -> Path:
    """The checkout this package lives in (for the bundled defaults)."""
    return Path(__file__).resolve().parents[2]


def default_path(name: str) -> Path:
    """A bundled folder (``seeds``, ``labels``): in the working directory if present, else the checkout's."""
    here = Path(name)
    return here if here.exists() else project_root() / name
