"""Advisory locks for files that several writers append to and rewrite (the label files), and for the folder
that holds files writers check against one another (a labels folder); and making, then removing again, the
folders a write needed."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Iterable, Iterator


@contextlib.contextmanager
def file_locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive advisory lock on the file at ``path`` for the block (a missing file is created for it,
    and removed again if the block leaves it empty).

    For files that are appended to and also rewritten whole by rename (a label file: appends, undo, merge):
    a writer that renames a new version over ``path`` while holding the lock makes the writers waiting on
    the old version's lock take it again on the new one, so no append lands in a replaced file and no
    rewrite drops a line appended after it read the file.  Where ``fcntl`` is missing, nothing is locked."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            fd, created = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o666), True
        except FileExistsError:
            try:
                fd, created = os.open(path, os.O_RDONLY), False
            except FileNotFoundError:  # removed in between: try again
                continue
        if _locked_if_current(fd, path, fcntl):
            break
        # replaced while we waited: lock the file now at ``path``
    try:
        yield
    finally:
        try:
            if created:  # made here and left empty (the block failed before writing): not left behind
                with contextlib.suppress(OSError):
                    st = os.stat(path)
                    if st.st_ino == os.fstat(fd).st_ino and st.st_size == 0:
                        os.unlink(path)
        finally:
            os.close(fd)


def _locked_if_current(fd: int, path: str | os.PathLike, fcntl) -> bool:
    """Take the exclusive lock of ``fd``; True if ``path`` still names the file or folder ``fd`` is open on,
    else (replaced or removed while we waited) close ``fd`` and return False, so the caller opens ``path``
    again.  ``fd`` is closed too if waiting is interrupted."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:
            return True
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return False


_held_folders = threading.local()  # the folders this thread holds (folders_locked): not locked twice


@contextlib.contextmanager
def folders_locked(folders: Iterable[str | os.PathLike]) -> Iterator[None]:
    """Hold an exclusive advisory lock on each folder for the block (missing ones are made for it, and removed
    again if the block leaves them empty, as :func:`file_locked` does with a file).

    For files that writers check against one another before each append (the label files of one labels folder:
    an utterance labeled in one must not be labeled again in another): the check and the append happen under
    the folder's lock, so two writers of different files cannot both find an utterance unlabeled and both
    write it.  The locks are taken in one order (by real path), and always before :func:`file_locked` of a file
    (which never waits for a folder's lock while it holds one), so writers never wait on each other in a
    circle; a folder this thread already holds is not locked again.  Where ``fcntl`` is missing, nothing is
    locked."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        yield
        return
    held = _held_folders.__dict__.setdefault("paths", set())
    with contextlib.ExitStack() as stack:
        for folder in sorted({os.path.realpath(f) for f in folders} - held):
            fd, made = _lock_folder(folder, fcntl)
            stack.callback(os.close, fd)
            stack.callback(held.discard, folder)
            held.add(folder)
            for level in made:  # deepest last: removed first, while the lock is still held
                stack.callback(remove_if_empty, level)
        yield


def _lock_folder(folder: str, fcntl) -> tuple[int, list[str]]:
    """An fd of ``folder`` holding its lock, and the folders made for it (top first)."""
    while True:
        try:
            made = make_folders(folder)
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except FileNotFoundError:  # removed in between by a writer that had made it: try again
            continue
        if _locked_if_current(fd, folder, fcntl):
            return fd, made
        # removed (and perhaps made again) while we waited: lock the folder now at ``folder``


def make_folders(folder: str) -> list[str]:
    """Make ``folder`` and its missing parents; returns those this call made, top first (FileNotFoundError if a
    parent is removed meanwhile)."""
    missing = []
    level = folder
    while not os.path.isdir(level) and level != os.path.dirname(level):
        missing.append(level)
        level = os.path.dirname(level)
    made = []
    for level in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(level)
            made.append(level)
    return made


def remove_if_empty(folder: str) -> None:
    with contextlib.suppress(OSError):  # not empty (a label file was written), or removed already
        os.rmdir(folder)
