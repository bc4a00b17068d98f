"""Appending to JSON-lines files (the label files) durably: one line at a time, fsynced, and never glued to a
last line an interrupted write left without its newline.

By design an append, not a rename as :mod:`train.atomic`'s writes: a crash loses at most the line being written.
"""

from __future__ import annotations

import os
from pathlib import Path

from .atomic import atomic_write_bytes
from .locks import file_locked


def append_line_durably(path: str | os.PathLike, line: str, *, lock: bool = True) -> str | None:
    """Append one line and fsync: a crash loses at most the line being written.

    A last line without its newline is first dealt with by :func:`mend_last_line` (so a torn previous write can
    never merge with the new line); returns its note of a line removed, or None.  Runs under :func:`file_locked`
    (``lock=False``: the caller holds it already).
    """
    path = Path(path)
    if not lock:
        return _append_line_durably(path, line)
    with file_locked(path):
        return _append_line_durably(path, line)


def _append_line_durably(path: Path, line: str) -> str | None:
    note = None
    if path.exists() and path.stat().st_size:
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            last = fh.read(1)
        if last != b"\n":
            data, note = mend_last_line(path, path.read_bytes())
            atomic_write_bytes(path, data)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line.rstrip("\n") + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return note


def mend_last_line(path: str | os.PathLike, data: bytes) -> tuple[bytes, str | None]:
    """What a JSON-lines file (a label file) holding ``data`` must hold before lines are appended to it, and a note
    of what was removed (None if nothing was).

    A last line without its newline (see :func:`~train.jsonline.read_tail`) gets one when it is whole JSON (a
    hand edit) and is removed, with a note naming it, when it is the start of a label that an interrupted write
    left.  A last line holding a mistake, or a label whole but for its end, is never touched: :class:`LabelError`
    names it and says how to fix it (nothing may be appended until it is fixed, or the new line would be glued
    to it or the label lost)."""
    from .errors import LabelError
    from .jsonline import read_tail

    if not data or data.endswith(b"\n"):
        return data, None
    cut = data.rfind(b"\n") + 1
    tail = read_tail(data[cut:], first=cut == 0)
    lineno = data.count(b"\n", 0, cut) + 1
    where = f"{path}:{lineno}"
    if tail.kind == "whole":
        return data + b"\n", None
    if tail.kind == "blank":
        return data[:cut], None
    if tail.kind == "cut":
        return data[:cut], tail.note(where)
    raise LabelError(f"{tail.problem(where)}; nothing was written")
