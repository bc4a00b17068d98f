"""Changing labels already made, in place: by the majority of three independent readings (``labels adjudicate``)
and by a reviewer's decisions (``labels revise``).

Both rewrite only the lines of the labels they change (every other line stays byte for byte as it was), keep the
first reading in ``previous_topics`` and say why in ``adjudicated``; both check the result as ``labels validate``
does and then replace the files all at once, under the locks every label writer takes, or write nothing.  A
label file given alone is checked with the other label files of its folder, as ``labels validate <folder>`` reads
them (see :mod:`train.labeling.rewrite`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path

from ..errors import InputError, LabelError
from ..jsonline import loads_line, lone_surrogate
from ..taxonomy import Taxonomy
from .batches import first_line, read_text
from .rewrite import Change, Revision, Rewrite, fail
from .store import MAJORITY_NOTE, Example, LabelSet, label_files, label_set_folder, read_labels

__all__ = ["Change", "Decision", "Revision", "adjudicate", "check_name", "parse_changes", "revise", "split_names"]


def check_name(value: object, option: str, example: str | None = None, comma: bool = True) -> str:
    """A reader's name, a batch's name or a reason given on the command line: one line of text, no control character
    (a tab or newline would break the files it is written into), and no comma where ``comma`` is False (a name that
    ``labels adjudicate --annotators A,B`` would split)."""
    value = value.strip() if isinstance(value, str) else ""
    bad = [c for c in value if unicodedata.category(c) == "Cc" or (not comma and c == ",")]
    if not value or bad or lone_surrogate(value) is not None:
        what = f"a name such as {example}" if example else "a non-empty line of text"
        raise InputError(f"{option}: expected {what} (no control character{'' if comma else ', no comma'}), "
                         f"found {value!r:.60}")
    return value


# --------------------------------------------------------------------------- labels adjudicate

def split_names(names: str | None) -> tuple[str, str] | None:
    """``--annotators "reader-19A,reader-19B"`` as two names (None: take them from the files)."""
    if names is None:
        return None
    parts = [n.strip() for n in names.split(",")]
    if len(parts) != 2 or not all(parts):
        raise InputError(f"--annotators: expected the two second-pass readers' names separated by a comma (e.g. "
                         f"'reader-19A,reader-19B'), found {names!r}")
    return parts[0], parts[1]


def _annotator(path: Path, given: str | None) -> str:
    """Who read the second pass in ``path``: its records' one ``annotator``, or ``given`` (which must agree)."""
    found = set()
    for n, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        if raw.strip():
            record = loads_line(raw.decode("utf-8"), f"{path}:{n}", LabelError)
            found.add(record.get("annotator") if isinstance(record.get("annotator"), str) else None)
    if given is not None:
        if found - {None} and found != {given}:
            raise InputError(f"--annotators: {given!r} for {path}, whose labels name {sorted(map(str, found))}; "
                             "expected the name its labels give (or leave --annotators out)")
        return check_name(given, "--annotators", "reader-R12", comma=False)
    if len(found) != 1 or None in found:
        raise InputError(f"{path}: expected one reader named in every label's 'annotator', found "
                         f"{sorted(map(str, found))}; name the two readers with --annotators A,B")
    return found.pop()


def _check_passes(first: LabelSet, first_path: Path, a: LabelSet, a_path: Path, b: LabelSet, b_path: Path) -> None:
    """Every id of each second pass is in the first pass and in the other second pass, with the same text."""
    problems = []
    by_id = {ex.id: ex for ex in first.examples}
    ids = {a_path: {ex.id for ex in a.examples}, b_path: {ex.id for ex in b.examples}}
    for (path, labels), other in (((a_path, a), b_path), ((b_path, b), a_path)):
        for where, absent in (("the first pass " + str(first_path), set(by_id)), (str(other), ids[other])):
            missing = [ex.id for ex in labels.examples if ex.id not in absent]
            if missing:
                problems.append(f"{path}: {len(missing)} id(s) not in {where}: "
                                + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
        differ = [ex for ex in labels.examples if ex.id in by_id and ex.text != by_id[ex.id].text]
        problems += [f"{ex.where}: the text of {ex.id} differs from the first pass's at {by_id[ex.id].where}"
                     for ex in differ]
    if problems:
        raise fail(problems, "expected two second passes of the same utterances, all labeled in the first pass, "
                    "under the same ids with the same texts")


def _adjudicate_fix(c: Change, other: Example, folder: Path) -> str:
    return (f"to change both, adjudicate with the folder as the first pass and as --labels ({folder}), {other.id} "
            f"read in both second passes too; or leave {c.id} out of the second passes")


def adjudicate(first: Path, second_a: Path, second_b: Path, *, labels_dir: Path, taxonomy: Taxonomy,
               annotators: tuple[str, str] | None = None, dry_run: bool = False, force: bool = False) -> Revision:
    """Decide each id of two independent second passes by the majority of the three readings, topic by topic;
    rewrite the first-pass label in place where the majority differs from it.

    A label decided again since its first reading (it has an ``adjudicated`` note: a review, an earlier majority)
    is not a first reading: a majority the label's current topics take part in would undo that later decision.
    Such a change is refused unless ``force``.

    ``first``: the first-pass labels (a folder or a file), whose labels are rewritten; ``labels_dir``: the labels
    folder (or file) checked as a whole, with ``first``, before anything is replaced."""
    first, second_a, second_b, labels_dir = map(Path, (first, second_a, second_b, labels_dir))
    for second in (second_a, second_b):
        if not second.is_file():
            found = "a folder" if second.is_dir() else "nothing there"
            raise InputError(f"{second}: expected a second pass as one label file (e.g. "
                             f"labels/agreement/second-pass-r19-A.jsonl), found {found}")
    a, _ = read_labels(second_a, taxonomy)
    b, _ = read_labels(second_b, taxonomy)
    if set(map(os.path.realpath, a.files)) & set(map(os.path.realpath, b.files)):
        raise InputError(f"{second_b}: is also the first second pass {second_a}; expected two independent passes")
    seconds = {os.path.realpath(f) for f in [*a.files, *b.files]}
    # the labels checked: those given, and the folder of a file given (whose label files validate reads together)
    checked = [p for p in (first, labels_dir, label_set_folder(first), label_set_folder(labels_dir)) if p is not None]
    shared = sorted((str(f), str(p)) for p in checked for f in label_files(p) if os.path.realpath(f) in seconds)
    if shared:
        raise InputError(f"{shared[0][0]}: is read as a second pass and is also one of the labels of {shared[0][1]} "
                         f"(`labels validate {shared[0][1]}` reads it as labels); expected the second passes apart "
                         "(e.g. labels/agreement/)")
    names = (_annotator(second_a, annotators and annotators[0]), _annotator(second_b, annotators and annotators[1]))
    note = f"{MAJORITY_NOTE} (first pass, {names[0]}, {names[1]})"
    rewrite = Rewrite([labels_dir, first], taxonomy, _adjudicate_fix)
    with rewrite.locked():
        labels = rewrite.read(first)
        rewrite.read(labels_dir)  # refused now if the folder has problems, not after the majority is worked out
        _check_passes(labels, first, a, second_a, b, second_b)
        by_id, b_by_id = {ex.id: ex for ex in labels.examples}, {ex.id: ex for ex in b.examples}
        for ex in a.examples:
            own = by_id[ex.id]
            votes = Counter([*own.topics, *ex.topics, *b_by_id[ex.id].topics])
            majority = {t for t, n in votes.items() if n >= 2}
            if majority != set(own.topics):
                rewrite.change(own, majority, note)
        later = [c for c in rewrite.changes if c.earlier is not None]
        if later and not force:
            c = later[0]
            raise InputError(f"{c.where}: {c.id} was decided again since its first reading ({c.earlier!r}), and "
                             f"the majority would change it ({len(later)} such label(s)): it would undo that later "
                             "decision; expected first readings: leave those ids out of the second passes, or pass "
                             "--force to override them (nothing was written)")
        return rewrite.commit(len(a.examples), dry_run, "id(s) compared")


# --------------------------------------------------------------------------- labels revise

@dataclasses.dataclass(frozen=True)
class Decision:
    lineno: int
    id: str
    topics: tuple[str, ...]
    why: str


_SPLIT = re.compile(r"[,\s]+")


def parse_changes(path: Path, topic_ids: list[str]) -> list[Decision]:
    """A reviewer's decisions: ``id<TAB>topics<TAB>why`` lines (topics comma-separated topic ids, ``-`` for none;
    blank lines skipped).  Every problem is listed, each as ``file:line: what``."""
    text = read_text(path, "changes").removeprefix("\ufeff")
    known = set(topic_ids)
    expected = ("expected id<TAB>topics<TAB>why (topics: topic ids separated by commas, '-' for none; why: the "
                "reviewer's reason)")
    if first_line(text).startswith("{"):  # a readers' JSONL file given for its answers
        raise LabelError(f"{path}: its first line is a JSON object: is it a readers' file? {expected}; nothing was "
                         "written")
    decisions: list[Decision] = []
    first: dict[str, int] = {}
    problems = []
    unknown_seen = False
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        parts = [p.strip() for p in line.split("\t")]
        rid, raw = parts[0], parts[1] if len(parts) > 1 else ""
        why = " ".join(p for p in parts[2:] if p)
        if len(parts) < 3 or not rid or not raw or not why:
            problems.append(f"{where}: {expected}, found {line!r:.80}")
            continue
        topics = [] if raw == "-" else [t for t in _SPLIT.split(raw) if t]
        if raw != "-" and not topics:  # "," is no topic id: only "-" says "none" (as an empty field is refused)
            problems.append(f"{where}: {expected}, found topics {raw!r} for {rid}")
            continue
        unknown = [t for t in topics if t not in known]
        if unknown:
            unknown_seen = True
            problems.append(f"{where}: unknown topic id(s) {unknown} for {rid}")
        elif len(set(topics)) != len(topics):
            problems.append(f"{where}: topic listed twice in {raw!r} for {rid}")
        if lone_surrogate(why) is not None:
            problems.append(f"{where}: the reason holds a lone surrogate; expected valid Unicode text")
        if rid in first:
            problems.append(f"{where}: {rid} again (first on line {first[rid]}); expected one decision per id")
            continue
        first[rid] = lineno
        decisions.append(Decision(lineno, rid, tuple(topics), why))
    if problems:
        raise fail(problems, f"expected topic ids of the taxonomy: {', '.join(topic_ids)}" if unknown_seen else "")
    if not decisions:
        raise LabelError(f"{path}: no decisions found; {expected}")
    return decisions


def revise(changes: Path, *, reviewer: str, reason: str, labels_dir: Path, taxonomy: Taxonomy,
           dry_run: bool = False) -> Revision:
    """Apply a reviewer's decisions (see :func:`parse_changes`) to the labels under ``labels_dir``, in place: each
    label whose topics the decision changes gets them (``previous_topics`` keeps the first reading) and the note
    ``<reason> (<reviewer>): <why>``.  All or nothing."""
    changes, labels_dir = Path(changes), Path(labels_dir)
    reviewer, reason = check_name(reviewer, "--reviewer", "reader-R12"), check_name(reason, "--reason")
    decisions = parse_changes(changes, taxonomy.ids)
    rewrite = Rewrite([labels_dir], taxonomy, lambda c, other, folder: (
        f"to change both, pass the folder (--labels {folder}) with a decision for {other.id} in {changes} too; to "
        f"keep them alike, decide {c.id} as {','.join(other.topics) or '-'}"))
    with rewrite.locked():
        by_id = {ex.id: ex for ex in rewrite.read(labels_dir).examples}
        unknown = [f"{changes}:{d.lineno}: {d.id} is not labeled under {labels_dir}" for d in decisions
                   if d.id not in by_id]
        if unknown:
            raise fail(unknown, "expected ids of labels under --labels")
        for d in decisions:
            if set(d.topics) != set(by_id[d.id].topics):
                rewrite.change(by_id[d.id], d.topics, f"{reason} ({reviewer}): {d.why}")
        return rewrite.commit(len(decisions), dry_run, "decision(s)")
