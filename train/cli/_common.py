"""Shared helpers for CLI commands: output, defaults."""

from __future__ import annotations

import contextlib
import io
import sys
import time
from pathlib import Path
from typing import IO, Callable, Iterator, Optional

from rich.console import Console

from ..paths import default_path, to_stdout  # noqa: F401  (the commands import them from here)

# no markup and no emoji codes: what is printed holds user text (paths, ids, assembly names, label texts), and
# "[/x]" in it would stop the command after its work with a MarkupError, "[bold]" vanish, ":warning:" become ⚠
console = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)


@contextlib.contextmanager
def _status_line(initial: str, min_interval: float = 0.0) -> Iterator[Callable[[str], None]]:
    """``show(line)``: a live status line on a terminal; otherwise printed lines, at most one per
    ``min_interval`` seconds."""
    status = err_console.status(initial) if err_console.is_terminal else None
    last = [float("-inf")]
    if status:
        status.start()

    def show(line: str) -> None:
        if status:
            status.update(line)
        elif time.perf_counter() - last[0] >= min_interval:
            last[0] = time.perf_counter()
            err_console.print(line)

    try:
        yield show
    finally:
        if status:
            status.stop()


@contextlib.contextmanager
def progress_printer():
    """A progress callback printing timed steps to stderr (a spinner on a terminal)."""
    start = time.perf_counter()
    with _status_line("starting") as show:
        yield lambda message: show(f"[{time.perf_counter() - start:6.1f}s] {message}")


def summary_table(manifest: dict):
    from rich.table import Table

    def shown(f1: float | None) -> str:
        return "–" if f1 is None else f"{f1:.3f}"  # undefined: a topic without positives

    table = Table("topic", "labels", "threshold", "internal CV F1", title="model summary")
    f1 = manifest["cv_summary"]["f1"]
    for t in manifest["topics"]:
        table.add_row(t, str(manifest["label_positives"][t]), f"{manifest['thresholds'][t]:.2f}", shown(f1[t]))
    table.add_row("macro", "", "", shown(manifest["cv_summary"]["macro_f1"]))
    return table


@contextlib.contextmanager
def progress_counter(label: str):
    """A progress callback ``(done, read)`` shown as a live counter on a terminal, a line every 10 s otherwise."""
    start = time.perf_counter()
    with _status_line(label, min_interval=10.0) as show:
        def progress(done: int, read: int) -> None:
            elapsed = time.perf_counter() - start
            show(f"{label}: {done:,} done / {read:,} read  ({done / elapsed if elapsed else 0:,.0f}/s)")

        yield progress


@contextlib.contextmanager
def utf8_stdout() -> Iterator[IO[str]]:
    """Standard output for JSONL lines: UTF-8 whatever the locale, like the files written and the input read
    (a Latin-1 or ASCII terminal would otherwise stop at the first Japanese character)."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (e.g. an in-process capture): its own encoding
        yield sys.stdout
        return
    sys.stdout.flush()
    out = io.TextIOWrapper(buffer, encoding="utf-8", newline="\n")
    try:
        yield out
        out.flush()
    finally:
        out.detach()  # leaves sys.stdout's buffer open


def discard_stdout() -> None:
    """Point standard output at the null device after a write to it failed (a full disk), so that the lines still
    buffered do not fail again, as a second traceback, when the interpreter flushes them at exit (click does the
    same after a broken pipe)."""
    import os

    with contextlib.suppress(OSError, ValueError, AttributeError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


@contextlib.contextmanager
def output_to(path: Optional[Path | str]) -> Iterator[IO[str]]:
    """Text output: standard output as UTF-8 (see :func:`to_stdout`), or the file at ``path`` written atomically."""
    from ..atomic import atomic_open

    with (utf8_stdout() if to_stdout(path) else atomic_open(path)) as fh:
        yield fh
