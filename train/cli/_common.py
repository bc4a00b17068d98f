"""Shared helpers for CLI commands: output, defaults."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def project_root() -> Path:
    """The checkout this package lives in (for the bundled defaults)."""
    return Path(__file__).resolve().parents[2]


def default_path(name: str) -> Path:
    """A bundled folder (``seeds``, ``labels``): in the working directory if present, else the checkout's."""
    here = Path(name)
    return here if here.exists() else project_root() / name


import contextlib
import time


@contextlib.contextmanager
def progress_printer():
    """A progress callback printing timed steps to stderr (a spinner on a terminal)."""
    start = time.perf_counter()
    status = err_console.status("starting") if err_console.is_terminal else None
    if status:
        status.start()

    def progress(message: str) -> None:
        line = f"[{time.perf_counter() - start:6.1f}s] {message}"
        if status:
            status.update(line)
        else:
            err_console.print(line)

    try:
        yield progress
    finally:
        if status:
            status.stop()


def summary_table(manifest: dict):
    from rich.table import Table

    table = Table("topic", "labels", "threshold", "internal CV F1", title="model summary")
    f1 = manifest["cv_summary"]["f1"]
    for t in manifest["topics"]:
        table.add_row(t, str(manifest["label_positives"][t]), f"{manifest['thresholds'][t]:.2f}", f"{f1[t]:.3f}")
    table.add_row("macro", "", "", f"{manifest['cv_summary']['macro_f1']:.3f}")
    return table


@contextlib.contextmanager
def progress_counter(label: str):
    """A progress callback ``(done, read)`` shown as a live counter on a terminal, sparse lines otherwise."""
    start = time.perf_counter()
    last = [0.0]
    status = err_console.status(label) if err_console.is_terminal else None
    if status:
        status.start()

    def progress(done: int, read: int) -> None:
        elapsed = time.perf_counter() - start
        line = f"{label}: {done:,} done / {read:,} read  ({done / elapsed if elapsed else 0:,.0f}/s)"
        if status:
            status.update(line)
        elif elapsed - last[0] >= 10:
            last[0] = elapsed
            err_console.print(line)

    try:
        yield progress
    finally:
        if status:
            status.stop()
