"""Provenance stamps: library versions, git commit, time."""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path

#: what a model's files and figures depend on: iterative-stratification draws the threshold folds, and so the
#: thresholds; the dictionary package of the model's analyzer is added by :func:`library_versions`
PACKAGES = ("gikai-topics", "scikit-learn", "numpy", "scipy", "sudachipy", "sudachidict-core", "iterative-stratification",
            "joblib", "bentoml")


def library_versions(dictionary: str = "core") -> dict[str, str]:
    """Installed versions of :data:`PACKAGES` and of ``sudachidict-<dictionary>``, the dictionary the analyzer
    loads (a model with ``analyzer.dictionary = "full"`` recorded only sudachidict-core, which it never used)."""
    out = {"python": platform.python_version()}
    for name in dict.fromkeys(PACKAGES + (f"sudachidict-{dictionary}",)):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=5)


def git_commit() -> str | None:
    """The commit of the checkout this package runs from, ``-dirty`` when tracked files differ from it,
    ``-unverified`` when git could not tell (``git status`` failed, e.g. on a damaged index); None without git,
    outside a checkout, or when the package is not the top of the repository git finds (an installed copy in a
    virtual environment inside some other repository, whose commit says nothing of this code)."""
    root = Path(__file__).resolve().parents[1]
    try:
        top = _git(root, "rev-parse", "--show-toplevel")
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root:
            return None
        sha = _git(root, "rev-parse", "HEAD")
        if sha.returncode != 0:
            return None
        status = _git(root, "status", "--porcelain", "--untracked-files=no")
        if status.returncode != 0:
            return sha.stdout.strip() + "-unverified"
        return sha.stdout.strip() + ("-dirty" if status.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
