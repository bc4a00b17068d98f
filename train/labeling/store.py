"""Reading, validating and summarising labeled data (``labels/*.jsonl``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Mapping

from ..corpus import UNKNOWN_ASSEMBLY, group_key
from ..errors import LabelError
from ..jsonline import lone_surrogate, loads_line, read_tail
from ..taxonomy import Taxonomy, load_taxonomy


#: the ``selection`` note of labels chosen by a model's uncertainty (``labels pool``)
MODEL_CHOSEN_PREFIX = "uncertainty:"
#: how ``labels adjudicate`` begins its ``adjudicated`` note; ``labels revise`` writes "REASON (REVIEWER): WHY", and a
#: label decided again more than once has the notes joined by THEN
MAJORITY_NOTE = "majority of three independent readings"
THEN = "; then "


@dataclasses.dataclass(frozen=True, slots=True)
class Example:
    """One labeled utterance."""

    id: str
    text: str
    topics: tuple[str, ...]
    municipality: str | None = None
    date: str | None = None
    speaker: str | None = None
    where: str = ""  # file:line
    #: how the utterance was chosen for labeling (``labels pool`` writes it); None if not recorded
    selection: str | None = None
    #: why the label was decided again since its first reading (``labels adjudicate``/``revise`` write it: a
    #: majority of three, a reviewer); None for a first reading
    adjudicated: str | None = None

    @property
    def model_chosen(self) -> bool:
        """Chosen for labeling because a model was unsure about it (see :mod:`train.labeling.pool`)."""
        return bool(self.selection) and self.selection.startswith(MODEL_CHOSEN_PREFIX)

    @property
    def group(self) -> str:
        return group_key(self.text)


@dataclasses.dataclass
class LabelSet:
    examples: list[Example]
    files: list[Path]
    taxonomy: Taxonomy

    @property
    def sha256(self) -> str:
        """Hash of the label content (ids, texts, topics), independent of file layout and order."""
        h = hashlib.sha256()
        for ex in sorted(self.examples, key=lambda e: e.id):
            h.update(json.dumps([ex.id, ex.text, sorted(ex.topics)], ensure_ascii=False).encode("utf-8"))
        return h.hexdigest()

    def __len__(self) -> int:
        return len(self.examples)

    def in_id_order(self) -> "LabelSet":
        """The same labels sorted by id: what a fit and an evaluation read, so that the model and the report are
        functions of the label set that :attr:`sha256` names, not of file names, file order or line order (the
        threshold folds and the CV folds are drawn over the examples in this order)."""
        return dataclasses.replace(self, examples=sorted(self.examples, key=lambda e: e.id))


def label_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise LabelError(f"{path}: no such labels file or folder")
    files = sorted(path.glob("*.jsonl"))
    if not files:
        raise LabelError(f"{path}: no *.jsonl label files found")
    return files


def label_set_folder(path: str | Path) -> Path | None:
    """The folder whose labels the label file ``path`` is one of: its own folder, when ``labels validate`` of that
    folder reads it (a ``*.jsonl`` file directly in it; ``labels/agreement/`` is a folder of its own).  None for a
    folder, a missing path, or a file that validating its folder would not read."""
    path = Path(path)
    if not path.is_file() or not path.parent.is_dir():
        return None
    real = os.path.realpath(path)
    return path.parent if any(os.path.realpath(f) == real for f in path.parent.glob("*.jsonl")) else None


def conflicts(examples: Iterable[Example]) -> list[tuple[Example, Example]]:
    """Labels of the same text (after normalisation) with other topics than the first label of it, each paired
    with that first label, in reading order: what ``labels validate`` refuses as conflicting topics."""
    by_group: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_group[ex.group].append(ex)
    return [(other, members[0]) for members in by_group.values() for other in members[1:]
            if other.topics != members[0].topics]


def _check_record(obj: object, ids: set[str], where: str) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: expected a JSON object, found {type(obj).__name__}"]
    problems = []
    rid = obj.get("id")
    if not isinstance(rid, str) or not rid:
        problems.append(f"{where}: 'id' must be a non-empty string, found {rid!r:.40}")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{where}: 'text' must be a non-empty string")
    topics = obj.get("topics")
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        problems.append(f"{where}: 'topics' must be a list of topic ids (may be empty), found {topics!r:.60}")
    else:
        unknown = [t for t in topics if t not in ids]
        if unknown:
            # the ids of the taxonomy in force (labels/topics.yaml, or a model's own when scoring a test file)
            problems.append(f"{where}: unknown topic id(s) {unknown}; expected ids of the taxonomy: "
                            f"{', '.join(sorted(ids))}")
        if len(set(topics)) != len(topics):
            problems.append(f"{where}: topic listed twice in {topics}")
    for field in ("municipality", "date", "speaker"):
        if obj.get(field) is not None and not isinstance(obj[field], str):
            problems.append(f"{where}: '{field}' must be a string or null")
    if obj.get("selection") is not None and not isinstance(obj["selection"], str):  # else read as not recorded
        problems.append(f"{where}: 'selection' must be a string or null (how the utterance was chosen, e.g. "
                        f"'random' or 'uncertainty:dx (model)'), found {obj['selection']!r:.60}")
    for field, value in obj.items():  # an escaped half of a surrogate pair parses but cannot be written back
        at = lone_surrogate(value) if isinstance(value, str) else None
        if at is not None:
            problems.append(f"{where}: '{field}' holds a lone surrogate (\\u{ord(value[at]):04x}) at character {at}; "
                            "expected valid Unicode text")
    return problems


def read_labels(
    path: str | Path = "labels", taxonomy: Taxonomy | None = None, *, strict: bool = True,
    contents: Mapping[str, bytes] | None = None,
) -> tuple[LabelSet, list[str]]:
    """Read every label file; return the label set and the list of problems found.

    With ``strict`` any problem raises :class:`LabelError` listing them all.  ``contents``: the bytes to read
    for some of the files instead of what is on disk, keyed by real path (``os.path.realpath``): a rewrite in
    place is checked this way before it replaces anything (see :mod:`train.labeling.revise`).
    """
    taxonomy = taxonomy or load_taxonomy()
    ids = set(taxonomy.ids)
    files = label_files(path)
    problems: list[str] = []
    examples: list[Example] = []
    seen_ids: dict[str, str] = {}
    order = {t: i for i, t in enumerate(taxonomy.ids)}
    for f in files:
        try:
            data = contents.get(os.path.realpath(f)) if contents else None
            lines = (f.read_bytes() if data is None else data).split(b"\n")
        except OSError as exc:
            problems.append(f"{f}: cannot read: {exc}")
            continue
        for lineno, raw in enumerate(lines, 1):
            where = f"{f}:{lineno}"
            if not raw.strip():
                continue
            if lineno == len(lines):  # no newline after it: named as the appenders see it (see mend_last_line)
                tail = read_tail(raw, first=lineno == 1)
                if tail.kind not in ("whole", "blank"):
                    problems.append(tail.problem(where))
                    continue
            try:
                obj = loads_line(raw.decode("utf-8"), where, LabelError)
            except UnicodeDecodeError:
                problems.append(f"{where}: invalid UTF-8")
                continue
            except LabelError as exc:
                problems.append(str(exc))
                continue
            found = _check_record(obj, ids, where)
            if found:
                problems.extend(found)
                continue
            if obj["id"] in seen_ids:
                problems.append(f"{where}: duplicate id {obj['id']!r} (first at {seen_ids[obj['id']]})")
                continue
            seen_ids[obj["id"]] = where
            ex = Example(
                id=obj["id"],
                text=obj["text"],
                topics=tuple(sorted(obj["topics"], key=order.__getitem__)),
                municipality=obj.get("municipality"),
                date=obj.get("date"),
                speaker=obj.get("speaker"),
                where=where,
                selection=obj["selection"] if isinstance(obj.get("selection"), str) else None,
                adjudicated=obj["adjudicated"] if isinstance(obj.get("adjudicated"), str) and obj["adjudicated"]
                else None,
            )
            examples.append(ex)
    for other, first in conflicts(examples):
        problems.append(f"{other.where}: same text (after normalisation) as {first.where} but conflicting topics "
                        f"{list(other.topics)} vs {list(first.topics)}")
    if not examples and not problems:
        problems.append(f"{path}: no labeled utterances found")
    if strict and problems:
        shown = "\n".join(problems[:50])
        more = f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise LabelError(f"{len(problems)} problem(s) in the labels:\n{shown}{more}")
    return LabelSet(examples, files, taxonomy), problems


@dataclasses.dataclass
class LabelStats:
    examples: int
    files: int
    positives: dict[str, int]
    zero_topic: int
    assemblies: dict[str, int]
    topics_per_example: dict[int, int]
    cooccurrence: dict[str, dict[str, int]]
    #: labels decided again since their first reading (an ``adjudicated`` note; a decision that kept the topics
    #: writes none, and a later one may have gone back to the first topics), of them by the majority of three
    #: independent readings, by a reviewer (``labels revise``); some by both
    decided_again: int = 0
    by_majority: int = 0
    by_reviewer: int = 0

    @property
    def zero_topic_share(self) -> float:
        return self.zero_topic / self.examples if self.examples else 0.0

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["zero_topic_share"] = self.zero_topic_share
        return d


def label_stats(labels: LabelSet) -> LabelStats:
    ids = labels.taxonomy.ids
    pos = Counter(t for ex in labels.examples for t in ex.topics)
    co: dict[str, dict[str, int]] = {a: {b: 0 for b in ids} for a in ids}
    for ex in labels.examples:
        for a in ex.topics:
            for b in ex.topics:
                co[a][b] += 1
    notes = [ex.adjudicated.split(THEN) for ex in labels.examples if ex.adjudicated]
    return LabelStats(
        examples=len(labels.examples),
        files=len(labels.files),
        positives={t: pos.get(t, 0) for t in ids},
        zero_topic=sum(1 for ex in labels.examples if not ex.topics),
        assemblies=dict(Counter(ex.municipality or UNKNOWN_ASSEMBLY for ex in labels.examples).most_common()),
        topics_per_example=dict(sorted(Counter(len(ex.topics) for ex in labels.examples).items())),
        cooccurrence=co,
        decided_again=len(notes),
        by_majority=sum(any(n.startswith(MAJORITY_NOTE) for n in parts) for parts in notes),
        by_reviewer=sum(any(not n.startswith(MAJORITY_NOTE) for n in parts) for parts in notes),
    )


def group_fingerprints(examples: Iterable[Example]):
    """The examples' near-duplicate group keys (16 hex digits each) as sorted unique uint64: what a saved model
    keeps of its training labels, so that a test file's overlap with them can be found."""
    import numpy as np

    return np.unique(np.array([int(ex.group, 16) for ex in examples], dtype=np.uint64))


def label_matrix(examples: Iterable[Example], topic_ids: list[str]):
    """A dense 0/1 numpy matrix (n_examples x n_topics)."""
    import numpy as np

    examples = list(examples)
    index = {t: i for i, t in enumerate(topic_ids)}
    y = np.zeros((len(examples), len(topic_ids)), dtype=np.int8)
    for r, ex in enumerate(examples):
        for t in ex.topics:
            y[r, index[t]] = 1
    return y
