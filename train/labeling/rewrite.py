"""Rewriting label lines in place (``labels adjudicate``, ``labels revise``; see :mod:`train.labeling.revise`).

The labels under the paths given are read once under the locks every label writer takes; the changes are
collected, the result is checked as ``labels validate`` checks it, and the changed files are replaced all at once,
or nothing is.  A label file given alone is one of the labels of its folder (``labels validate <folder>`` reads
them together): the other label files there are read too, never rewritten, so that a change cannot make the same
text carry different topics in the file given and in one beside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..atomic import atomic_write_all
from ..errors import LabelError
from ..jsonline import loads_line
from ..locks import file_locked
from ..taxonomy import Taxonomy
from .labeled import labels_locked
from .store import THEN, Example, LabelSet, conflicts, label_files, label_set_folder, read_labels

_SHOWN = 20  # problems listed in one error


@dataclasses.dataclass(frozen=True)
class Change:
    """One label rewritten: its id, where it is (``file:line``), its topics before and after, the note added, and
    the ``adjudicated`` note it had already (None if none): a decision made since its first reading, which this
    change overrides."""

    id: str
    where: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    note: str
    earlier: str | None = None


@dataclasses.dataclass
class Revision:
    """What ``labels adjudicate`` or ``labels revise`` did (or, on a dry run, would do)."""

    compared: int  # ids read by all three passes / decision lines of the changes file
    changes: list[Change]
    files: list[Path]  # the label files rewritten (on a dry run: that would be)
    dry_run: bool = False
    counted: str = "id(s) compared"  # what ``compared`` counts, for a summary ("decision(s)" for ``labels revise``)

    @property
    def unchanged(self) -> int:
        return self.compared - len(self.changes)

    def topic_counts(self, order: Iterable[str]) -> dict[str, tuple[int, int]]:
        """Per topic (in ``order``), how many labels gain it and how many lose it; topics no change touches are
        left out."""
        added = Counter(t for c in self.changes for t in set(c.after) - set(c.before))
        removed = Counter(t for c in self.changes for t in set(c.before) - set(c.after))
        return {t: (added[t], removed[t]) for t in order if added[t] or removed[t]}


def fail(problems: list[str], expected: str = "") -> LabelError:
    """One error listing ``problems`` (the first few), what was ``expected``, and that nothing was written."""
    shown = "; ".join(problems[:_SHOWN]) + (f" (+{len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else "")
    return LabelError(shown + (f"; {expected}" if expected else "") + "; nothing was written")


def _rewritten(record: dict, topics: list[str], note: str, where: str) -> dict:
    """``record`` with new ``topics``, its first reading kept in ``previous_topics`` (an existing one is kept: it
    records the first reading) and ``note`` added to ``adjudicated`` (after ``; then `` if there is one).  The keys
    keep their order; new ones go at the end, ``previous_topics`` before ``adjudicated`` as in the label files."""
    old = record.get("adjudicated")
    if old is not None and not isinstance(old, str):
        raise LabelError(f"{where}: {record['id']}: 'adjudicated' is {type(old).__name__}; expected a string (the reasons "
                         "the label was changed) to add this change's reason to; nothing was written")
    out: dict = {}
    for key, value in record.items():
        if key == "adjudicated" and "previous_topics" not in record:
            out["previous_topics"] = list(record["topics"])
        out[key] = value
    out.setdefault("previous_topics", list(record["topics"]))
    out["topics"] = topics
    out["adjudicated"] = f"{old}{THEN}{note}" if old else note
    return out


def _at(where: str) -> tuple[str, int]:
    """A ``file:line`` as (real path, line)."""
    name, lineno = where.rsplit(":", 1)
    return os.path.realpath(name), int(lineno)


#: how to resolve a change that conflicts with a label outside the paths given: (the change, that label, the
#: folder both are labels of) -> advice, ending the error
Fix = Callable[[Change, Example, Path], str]


class Rewrite:
    """The label files under some paths, read once under their locks; changes collected, checked as ``labels
    validate`` checks, then written all at once (or shown only, on a dry run).

    ``fix`` says how to resolve a change that would conflict with a label of the same folder outside ``paths``."""

    def __init__(self, paths: list[Path], taxonomy: Taxonomy, fix: Fix) -> None:
        self.paths, self.taxonomy, self.fix = paths, taxonomy, fix
        self.files: dict[str, Path] = {}  # real path -> the path as listed (under the lock): the files given
        self.folders: dict[str, Path] = {}  # real path -> a folder a file given is one of the labels of
        self.others: dict[str, Path] = {}  # real path -> a label file of those folders not given: read only
        self.contents: dict[str, bytes] = {}
        self.new: dict[str, list[bytes]] = {}  # real path -> its lines, as they will be
        self.changes: list[Change] = []

    @contextlib.contextmanager
    def locked(self) -> Iterator["Rewrite"]:
        """Hold the locks of the label folders (as ``labels merge`` does) and then of each file (as every append
        and rewrite does), in one order; read the files, those beside a file given too."""
        with labels_locked(self.paths), contextlib.ExitStack() as stack:
            for p in self.paths:  # listed under the folders' lock: no label file appears meanwhile
                for f in label_files(p):
                    self.files.setdefault(os.path.realpath(f), f)
                if (folder := label_set_folder(p)) is not None:  # its folder: locked too (see labels_locked)
                    self.folders.setdefault(os.path.realpath(folder), folder)
            for real, folder in list(self.folders.items()):
                beside = {os.path.realpath(f): f for f in label_files(folder) if f.is_file()}
                self.others.update({r: f for r, f in beside.items() if r not in self.files})
                if not set(beside) - set(self.files):  # every one of them given (the folder was given too)
                    del self.folders[real]
            for real in sorted({*self.files, *self.others}):
                stack.enter_context(file_locked(real))
            for real, f in {**self.others, **self.files}.items():
                try:
                    self.contents[real] = Path(real).read_bytes()
                except OSError as exc:
                    raise LabelError(f"{f}: cannot read the label file ({exc.strerror}); nothing was written") from None
            yield self

    def read(self, path: Path) -> LabelSet:
        """The labels under ``path`` (one of the paths), as read under the lock; any problem raises."""
        try:
            return read_labels(path, self.taxonomy, contents=self.contents)[0]
        except LabelError as exc:
            raise LabelError(f"{exc}\nexpected labels that `labels validate` accepts before any is changed: fix "
                             "these first; nothing was written") from None

    def change(self, ex: Example, topics: Iterable[str], note: str) -> None:
        """Rewrite the label ``ex`` (read by :meth:`read`): ``topics`` (in taxonomy order), ``note``."""
        order = {t: i for i, t in enumerate(self.taxonomy.ids)}
        after = sorted(set(topics), key=order.__getitem__)
        real, lineno = _at(ex.where)
        if real not in self.files:  # read by read(): one of the files given, never one only beside them
            raise LabelError(f"{ex.where}: expected a label under {', '.join(map(str, self.paths))}; nothing was "
                             "written")
        lines = self.new.setdefault(real, self.contents[real].split(b"\n"))
        raw = lines[lineno - 1]
        record = loads_line(raw.decode("utf-8"), ex.where, LabelError)
        if not isinstance(record, dict) or record.get("id") != ex.id:  # read_labels read these very bytes
            raise LabelError(f"{ex.where}: expected the label of {ex.id}; nothing was written")
        line = json.dumps(_rewritten(record, after, note, ex.where), ensure_ascii=False).encode("utf-8")
        lines[lineno - 1] = line + (b"\r" if raw.endswith(b"\r") else b"")
        self.changes.append(Change(ex.id, ex.where, ex.topics, tuple(after), note, record.get("adjudicated") or None))

    def commit(self, compared: int, dry_run: bool, counted: str) -> Revision:
        """Check the labels as they would be (every path, and the folder of a file given, as ``labels validate``
        does), then replace the changed files all at once; on a dry run, check only."""
        result = {real: b"\n".join(lines) for real, lines in self.new.items()}
        after = {**self.contents, **result}
        problems = []
        for p in self.paths:
            problems += read_labels(p, self.taxonomy, strict=False, contents=after)[1]
        if problems:
            raise fail(list(dict.fromkeys(problems)), "expected labels that `labels validate` accepts after the "
                       "change (a label of the same text elsewhere must change with it)")
        self._check_beside(after)
        files = [self.files[real] for real in sorted(result)]
        if not dry_run and result:
            atomic_write_all((real, data) for real, data in sorted(result.items()))
        in_file_order = sorted(self.changes, key=lambda c: (c.where.rsplit(":", 1)[0], int(c.where.rsplit(":", 1)[1])))
        return Revision(compared, in_file_order, files, dry_run, counted)

    def _check_beside(self, after: dict[str, bytes]) -> None:
        """Refuse a change that would make the same text carry other topics than a label of the same folder
        outside the paths given: ``labels validate`` of the folder would refuse it.  Conflicts the change has no
        part in (the folder's own, or a file there that is no label file) are not this change's to mend."""
        changed = {_at(c.where): c for c in self.changes}
        found = []
        for folder in self.folders.values():
            for pair in conflicts(read_labels(folder, self.taxonomy, strict=False, contents=after)[0].examples):
                for mine, other in (pair, pair[::-1]):
                    c = changed.get(_at(mine.where))
                    if c is not None and _at(other.where)[0] in self.others:
                        found.append((c, other, folder))
        if not found:
            return
        c, other, folder = found[0]
        given = ", ".join(dict.fromkeys(map(str, self.paths)))
        more = f" ({len(found) - 1} more such label(s))" if len(found) > 1 else ""
        raise LabelError(f"{c.where}: {c.id}: expected the same topics for the same text (after normalisation) in "
                         f"every label file of {folder} (`labels validate {folder}` reads them together), not only "
                         f"in {given}; found it labeled {list(other.topics)} as {other.id} at {other.where}, while "
                         f"this change would make {c.id} {list(c.after)}{more}; {self.fix(c, other, folder)}; "
                         "nothing was written")
