"""Atomic file writes: write to a temporary file in the same folder, then rename.

A reader never sees a half-written file and an interrupted write leaves the
previous version in place.  Appending a line instead (the label files) is
:mod:`train.appending`'s; holding Ctrl-C and SIGTERM meanwhile, :mod:`train.signals`'s.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator

from .locks import make_folders, remove_if_empty
from .signals import signals_held


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def is_stream(path: Path) -> bool:
    """An existing output that is neither a file nor a folder (``/dev/stdout``, ``/dev/null``, a named pipe, a
    terminal): nothing can be renamed over it, and renaming a file over its name would replace the device."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _target(path: Path) -> Path:
    """The file a write to ``path`` replaces: the one a symbolic link names (the link keeps pointing there)."""
    return _real(path) if path.is_symlink() else path


def _temp_sibling(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path`` (its folder exists), with the usual permissions: fd and name."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual permissions
    return fd, tmp


def _naming(path: Path, exc: OSError) -> OSError:
    """``exc`` as an error of writing ``path`` (its ``filename``), whichever file the system call touched."""
    return OSError(exc.errno, exc.strerror or str(exc), str(path))


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary sibling of ``path``; on success rename it over ``path``.

    A symbolic link keeps pointing where it did: the file it names is replaced.  A stream (see :func:`is_stream`)
    is written in place, as it comes."""
    path = Path(path)
    binary = "b" in mode
    if is_stream(path):
        with open(path, mode, encoding=None if binary else encoding) as fh:
            if not binary:
                yield fh
                return
            buffer = io.BytesIO()  # binary formats (.npz, .parquet) seek back to write their index
            yield buffer
            fh.write(buffer.getvalue())
        return
    path = _target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_sibling(path)
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_writable(path: str | os.PathLike, option: str = "--output", *, inputs: Iterable[str | os.PathLike] = (),
                   scratch: Iterable[str | os.PathLike] = ()) -> None:
    """Fail before any work when ``path`` cannot become a file: a folder, a path under a file, no permission;
    or when writing it would destroy or feed back into one of the command's ``inputs`` (files or folders read):
    see :func:`check_apart_from_inputs`.  ``scratch``: folders the command also writes and removes next to
    ``path`` (tag-corpus's parts), checked against the inputs the same way.

    Missing folders are fine: :func:`atomic_open` creates them."""
    from .errors import InputError

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; expected a file path")
    if is_stream(path):  # written in place (atomic_open): only the stream itself must take writes
        if not os.access(path, os.W_OK):
            raise InputError(f"{option} {path}: no permission to write to it")
        return check_apart_from_inputs(path, inputs, option, scratch=scratch)
    parent = _target(path).parent  # a link's file is what gets replaced
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{option} {path}: {parent} is a file, so nothing can be written under it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: no permission to write in {parent}")
    check_apart_from_inputs(path, inputs, option, scratch=scratch)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_apart_from_inputs(path: str | os.PathLike, inputs: Iterable[str | os.PathLike], option: str = "--output",
                            *, scratch: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse an output that is one of the inputs (the same file, also through a link), or lies inside an input
    folder (a later run would read it back, and files written beside it would be read as input), or a scratch
    folder that holds an input (it is removed when the command ends).  ``-`` (standard input) is no path."""
    from .errors import InputError

    path = Path(path)
    out = _real(path)
    work = [(Path(s), _real(Path(s))) for s in scratch]
    for given in inputs:
        if str(given) == "-":
            continue
        given = Path(given)
        real = _real(given)
        if real == out or (given.exists() and path.exists() and os.path.samefile(given, path)):
            raise InputError(f"{option} {path}: is the input {given}; writing it would destroy the input. "
                             "Expected an output path that is not one of the inputs: choose another one")
        for shown, w in work:
            if real == w or real.is_relative_to(w):
                raise InputError(f"{option} {path}: the input {given} lies in {shown}, the work folder this "
                                 "command fills and then removes. Move the input or choose "
                                 "another output path")
        if given.is_dir() and any(w == real or w.is_relative_to(real) for w in [out, *(r for _, r in work)]):
            raise InputError(f"{option} {path}: lies inside the input folder {given}, so what is written there "
                             "would be read back as input (by this run or the next). Expected an output path "
                             "outside the input folders: choose one elsewhere")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_all(files: Iterable[tuple[str | os.PathLike, str | bytes]]) -> None:
    """Write several files that belong together (tasks and their labeling config) all or none.

    Each is first written to a temporary sibling and fsynced (as :func:`atomic_open`); then all are renamed
    into place one after the other, with Ctrl-C and SIGTERM held.  If a rename fails, or one of those signals
    arrived meanwhile, the files already renamed get their previous version back (kept under a second name
    until the end) or are removed where there was none, so no mix of two runs remains; the signal is then
    delivered.  Folders made for the files are removed again when nothing was written.  A failure raises
    :class:`OSError` whose ``filename`` is the file that could not be written.  As in :func:`atomic_open`, a
    symbolic link keeps pointing where it did, and a stream (``/dev/stdout``, a named pipe) is written in place,
    last, once the files are in (what went to a stream cannot be taken back)."""
    pending: list[tuple[Path, str]] = []  # (target, temporary sibling written)
    streams: list[tuple[Path, bytes]] = []
    made: list[str] = []  # folders made for them, top first
    written = False
    try:
        for path, data in files:
            path = Path(path)
            data = data.encode("utf-8") if isinstance(data, str) else data
            if is_stream(path):
                streams.append((path, data))
                continue
            path = _target(path)
            try:
                made.extend(make_folders(str(path.parent)))
                fd, tmp = _temp_sibling(path)
                pending.append((path, tmp))
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise _naming(path, exc) from exc
        with signals_held() as interrupted:
            written = _replace_all(pending, interrupted)
        for path, data in streams:
            try:
                with open(path, "wb") as fh:
                    fh.write(data)
            except OSError as exc:
                raise _naming(path, exc) from exc
    finally:
        for _, tmp in pending:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if not written:
            for folder in reversed(made):
                remove_if_empty(folder)


def _replace_all(pending: list[tuple[Path, str]], interrupted) -> bool:
    """Rename every temporary file over its target; False if put back (a signal arrived), else True."""
    done: list[tuple[Path, str | None]] = []  # (target, its previous version's second name, or None)
    kept: set[str] = set()  # previous versions that could not be put back: not removed
    try:
        for path, tmp in pending:
            backup = f"{tmp}.old" if os.path.lexists(path) else None
            try:
                if backup is not None:
                    try:
                        os.link(path, backup, follow_symlinks=False)
                    except OSError:  # no hard links here: a copy
                        shutil.copy2(path, backup, follow_symlinks=False)
                os.replace(tmp, path)
            except OSError as exc:
                if backup is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(backup)
                raise _naming(path, exc) from exc
            done.append((path, backup))
        if interrupted():
            kept = _put_back(done)
            return False
        return True
    except BaseException:
        kept = _put_back(done)
        raise
    finally:
        for _, backup in done:
            if backup is not None and backup not in kept:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(backup)


def _put_back(done: list[tuple[Path, str | None]]) -> set[str]:
    """Give each target its previous version again (or remove it where there was none); returns the second names
    of previous versions that could not be put back (left beside the target)."""
    kept = set()
    for path, backup in reversed(done):
        try:
            if backup is not None:
                os.replace(backup, path)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        except OSError:
            if backup is not None:
                kept.add(backup)
    return kept


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name, then move it into place.

    An existing directory at ``path`` is replaced only once the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            with signals_held():  # never stop between the two renames (nothing would be at ``path``)
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
