"""What is already labeled: the ids and near-duplicate groups of the label files, and their lock.

Every writer that adds labels (the terminal session, ``labels add``, ``merge`` and ``import``) checks here that
an utterance is not labeled yet, and holds :func:`labels_locked` around that check and its append; ``labels
pool`` and the session leave out what :class:`LabeledIndex` finds.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterable

from ..corpus import group_key
from ..errors import InputError, LabelError
from ..jsonline import read_tail
from ..locks import folders_locked


def check_labels_path(labels_dir: str | Path | None) -> None:
    """A --labels that does not exist is refused: :func:`labeled_keys` skips missing paths (an --out not yet
    written), so a typo there would silently exclude nothing."""
    if labels_dir is not None and not Path(labels_dir).exists():
        raise InputError(f"--labels {labels_dir}: no such folder or file; pass the labels whose utterances to "
                         "leave out (an empty folder if there are none yet)")


class _FileKeys:
    """What :class:`LabeledIndex` has read of one label file: up to byte ``offset`` (``lines`` whole lines)."""

    def __init__(self, ino: int) -> None:
        self.ino, self.offset, self.lines = ino, 0, 0
        self.ids: dict[str, int] = {}  # id -> line number
        self.groups: dict[str, int] = {}  # near-duplicate group -> line number

    def add(self, raw: bytes, lineno: int, *, last: bool = False) -> None:
        """Count line ``lineno``; ``last``: no newline follows it yet."""
        try:
            obj = json.loads(raw.decode("utf-8-sig" if lineno == 1 else "utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            tail = read_tail(raw, first=lineno == 1) if last else None
            if tail is None or tail.kind != "unended":
                return  # no id to be read (``labels validate`` names the line)
            obj = tail.members  # a label whole but for its end, kept until fixed by hand (see mend_last_line)
        if isinstance(obj, dict) and isinstance(obj.get("id"), str) and obj["id"]:
            self.ids[obj["id"]] = lineno
            if isinstance(obj.get("text"), str) and obj["text"].strip():
                self.groups[group_key(obj["text"])] = lineno


class LabeledIndex:
    """Ids and near-duplicate groups of the label files under ``paths`` (a folder: its ``*.jsonl``; a file;
    missing ones skipped).

    Read leniently: every JSON object line with a string ``id`` counts, also one with a problem (an unknown
    topic after a hand edit, say), so an utterance is never offered to be labeled a second time because its
    first label does not validate.  :meth:`refresh` reads only what was appended since the last call, and a
    file replaced (as undo does) or shortened is read again whole: cheap enough to run before every utterance,
    so a session sees what another session writes to the same files."""

    def __init__(self, paths: Iterable[Path | str | None]) -> None:
        self.paths = [Path(p) for p in paths if p is not None]
        self._files: dict[str, tuple[Path, _FileKeys]] = {}

    def _label_files(self) -> list[Path]:
        found = []
        for p in self.paths:
            if p.is_dir():
                found.extend(sorted(p.glob("*.jsonl")))
            elif p.is_file():
                found.append(p)
        return found

    def refresh(self) -> "LabeledIndex":
        for f in self._label_files():
            key = os.path.realpath(f)
            try:
                with open(key, "rb") as fh:
                    st = os.fstat(fh.fileno())
                    keys = self._files[key][1] if key in self._files else None
                    if keys is not None and (keys.ino != st.st_ino or keys.offset > st.st_size):
                        keys = None  # replaced (undo rewrites the file) or shortened: read it again
                    if keys is not None and keys.offset:
                        fh.seek(keys.offset - 1)
                        if fh.read(1) != b"\n":  # rewritten in place: not the lines read before
                            keys = None
                    if keys is None:
                        keys = _FileKeys(st.st_ino)
                        fh.seek(0)
                    data = fh.read()
            except FileNotFoundError:  # removed or renamed meanwhile
                continue
            except OSError as exc:
                raise LabelError(f"{f}: cannot read the label file ({exc.strerror}); expected to read every label "
                                 "file, or utterances already labeled there would be offered again") from None
            cut = data.rfind(b"\n") + 1
            for raw in data[:cut].split(b"\n")[:-1]:
                keys.lines += 1
                if raw.strip():
                    keys.add(raw, keys.lines)
            keys.offset += cut
            # a last line without its newline: counted if whole (or a label whole but for its end, which appends
            # refuse to touch), read again when finished
            if data[cut:].strip():
                keys.add(data[cut:], keys.lines + 1, last=True)
            self._files[key] = (f, keys)
        return self

    @property
    def ids(self) -> set[str]:
        return {i for _, keys in self._files.values() for i in keys.ids}

    @property
    def groups(self) -> set[str]:
        return {g for _, keys in self._files.values() for g in keys.groups}

    def where(self, rid: str, group: str | None = None) -> str | None:
        """``file:line`` of a label of ``rid`` (or of a text of ``group``), or None."""
        for f, keys in self._files.values():
            line = keys.ids.get(rid) or (keys.groups.get(group) if group is not None else None)
            if line:
                return f"{f}:{line}"
        return None


def labels_locked(paths: Iterable[Path | str | None]):
    """Hold the lock of the label files under ``paths`` (as :class:`LabeledIndex` reads them: a folder, a file,
    missing ones skipped; a label file not yet written, ``*.jsonl``, counts by its folder) for the block: what a
    writer checks before it appends, no other writer appends meanwhile, to any file of those folders
    (:func:`~train.locks.folders_locked`).  Every writer that checks what is labeled before it appends (the
    session, ``labels add``, ``merge`` and ``import``) takes it around the check and the append, before the file's
    own lock."""
    folders = set()
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        if p.is_dir():
            folders.add(p)
        elif p.exists() or p.name.endswith(".jsonl"):
            folders.add(p.parent)
    return folders_locked(folders) if folders else contextlib.nullcontext()


def labeled_keys(paths: Iterable[Path | None]) -> tuple[set[str], set[str]]:
    """Ids and near-duplicate groups already labeled in label folders/files (missing or empty ones skipped;
    see :class:`LabeledIndex`)."""
    index = LabeledIndex(paths).refresh()
    return index.ids, index.groups

