"""Label Studio import and export.

Export writes the labels as Label Studio tasks (JSON, one annotation per task)
plus the matching labeling config; import reads a Label Studio JSON export back,
validates every task against the taxonomy and the labels already made, and
writes all of it atomically or nothing.

Every other field of a label record (``selection``, ``annotator``, ``batch``, ``note``...) travels in
``data.meta`` and comes back on import, so a round trip loses nothing: a model-chosen label stays
model-chosen.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ..atomic import atomic_write_all
from ..corpus import group_key
from ..errors import InputError, LabelError
from ..jsonline import loads_line, lone_surrogate
from ..taxonomy import Taxonomy
from .editing import append_lines_atomically, check_label_out, existing_labels
from .labeled import labels_locked
from .store import LabelSet, _check_record, read_labels

FROM_NAME, TO_NAME = "topics", "text"
DATA_FIELDS = ("municipality", "date", "speaker")
#: the fields of a label record that have their own place in a task; every other one goes in ``data.meta``
CORE_FIELDS = ("id", "text", "topics", *DATA_FIELDS)
#: fields of ``data.meta`` that label records always hold as text
TEXT_META = ("selection", "annotator", "batch", "note", "source")


def labeling_config(taxonomy: Taxonomy) -> str:
    """The Label Studio labeling config matching :func:`to_tasks`."""
    choices = "\n".join(
        f"    <Choice value={quoteattr(t.id)} html={quoteattr(f'{t.id} — {t.ja}')}/>" for t in taxonomy.topics
    )
    return (f'<View>\n  <Text name="{TO_NAME}" value="$text"/>\n'
            f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="multiple" showInline="false">\n'
            f"{choices}\n  </Choices>\n</View>\n")


def _result(topics: list[str]) -> list[dict]:
    if not topics:  # what Label Studio itself records when nothing is chosen
        return []
    return [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": topics}}]


def label_extras(labels: LabelSet) -> dict[str, dict]:
    """``id -> {field: value}`` of every field of the label records beyond :data:`CORE_FIELDS` (records of a
    label set that validated; records without such fields are left out)."""
    out: dict[str, dict] = {}
    for f in labels.files:
        for lineno, line in enumerate(f.read_text(encoding="utf-8").split("\n"), 1):  # as read_labels: not at U+2028
            if not line.strip():
                continue
            obj = loads_line(line, f"{f}:{lineno}", LabelError)
            extra = {k: v for k, v in obj.items() if k not in CORE_FIELDS}
            if lone_surrogate(json.dumps(extra, ensure_ascii=False)) is not None:
                raise LabelError(f"{f}:{lineno}: a field holds a lone surrogate; expected valid Unicode text")
            if extra:
                out[obj["id"]] = extra
    return out


def to_tasks(labels: LabelSet, extras: dict[str, dict] | None = None) -> list[dict]:
    """One task per label, numbered from 1, each with its annotation (and ``data.meta``: ``extras`` of its id)."""
    extras = extras or {}
    tasks = []
    for n, ex in enumerate(labels.examples, 1):
        data = {"text": ex.text, "utt_id": ex.id, **{f: getattr(ex, f) for f in DATA_FIELDS}}
        if extras.get(ex.id):
            data["meta"] = extras[ex.id]
        tasks.append({"id": n, "data": data, "annotations": [{"result": _result(list(ex.topics))}]})
    return tasks


def export_label_studio(labels_path: Path, taxonomy: Taxonomy) -> tuple[str, str, int]:
    """(tasks JSON, labeling config XML, task count) for a labels folder or file (must validate)."""
    labels, _ = read_labels(labels_path, taxonomy)
    tasks = to_tasks(labels, label_extras(labels))
    return json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", labeling_config(taxonomy), len(tasks)


def write_export(tasks: str, config: str, *, out: Path | None, config_out: Path | None) -> None:
    """Write the tasks to ``out`` and the labeling config to ``config_out`` (those given), both or neither
    (:func:`~train.atomic.atomic_write_all`): a failure between the two must not leave the tasks of one run
    beside the config of another."""
    given = ((out, tasks, "--out"), (config_out, config, "--config-out"))
    files = [(path, text, option) for path, text, option in given if path is not None]
    try:
        atomic_write_all([(path, text) for path, text, _ in files])
    except OSError as exc:
        option, path = next(((o, p) for p, _, o in files if str(p) == exc.filename), (files[0][2], files[0][0]))
        unchanged = "both are" if len(files) > 1 else "it is"
        raise InputError(f"{option} {path}: cannot write it ({exc.strerror or exc}); expected to write "
                         f"{' and '.join(o for _, _, o in files)}; nothing was written ({unchanged} as before this "
                         "run): free space or choose another path, then export again") from None


# --------------------------------------------------------------------------- import

@dataclasses.dataclass
class ImportResult:
    records: list[dict]
    already_present: int = 0
    unannotated: int = 0
    note: str | None = None  # an unfinished last line removed from the label file written (see mend_last_line)


def _annotation_topics(ann: object, where: str, problems: list[str]) -> list[str] | None:
    """Topics of one annotation (None if cancelled or malformed).

    An empty ``result`` is what Label Studio records when the reader chose nothing: zero topics.  A result
    with items must hold the ``topics`` choices: anything else (a renamed control, another control type)
    would otherwise turn the reader's choice into a zero-topic label.
    """
    if not isinstance(ann, dict) or not isinstance(ann.get("result", []), list):
        problems.append(f"{where}: expected an annotation object with a 'result' list")
        return None
    if ann.get("was_cancelled"):
        return None
    items = ann.get("result", [])
    topics: list[str] = []
    ok, found_ours = True, False
    for item in items:
        if not isinstance(item, dict):
            problems.append(f"{where}: expected each result item to be an object, found {item!r:.60}")
            ok = False
            continue
        name, kind = item.get("from_name"), item.get("type")
        if kind == "choices" and name != FROM_NAME:
            problems.append(f"{where}: expected choices from the {FROM_NAME!r} control (the labeling config "
                            f"`gikai-topics labels export --config-out` writes), found choices from {name!r:.40}; "
                            f"if that control holds the topics, name it {FROM_NAME!r} in this file (from_name) "
                            "and in the project's labeling config, then import again")
            ok = False
            continue
        if name == FROM_NAME and kind != "choices":
            problems.append(f"{where}: expected the {FROM_NAME!r} control to be of type 'choices', found {kind!r:.40}; "
                            "use the labeling config `gikai-topics labels export --config-out` writes")
            ok = False
            continue
        if name != FROM_NAME:
            continue  # another control of a richer config (a comment box...): not a topic
        found_ours = True
        choices = (item.get("value") or {}).get("choices") if isinstance(item.get("value"), dict) else None
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            problems.append(f"{where}: expected value.choices to be a list of topic ids, found {choices!r:.60}")
            return None
        topics.extend(c for c in choices if c not in topics)
    if not ok:
        return None
    if items and not found_ours:
        others = sorted({f"{i.get('from_name')}/{i.get('type')}"[:60] for i in items})
        problems.append(f"{where}: expected the result to hold the {FROM_NAME!r} choices, found only {others}; "
                        "a reader who chose no topic leaves the result empty. Check the project uses the labeling "
                        "config `gikai-topics labels export --config-out` writes (a Choices named "
                        f"{FROM_NAME!r})")
        return None
    return topics


def _task_topics(task: dict, where: str, problems: list[str]) -> list[str] | None:
    anns = task.get("annotations", [])
    if not isinstance(anns, list):
        problems.append(f"{where}: 'annotations' must be a list")
        return None
    found = [t for t in (_annotation_topics(a, where, problems) for a in anns) if t is not None]
    if len({tuple(sorted(t)) for t in found}) > 1:
        problems.append(f"{where}: its annotations disagree ({[sorted(t) for t in found]}); "
                        "resolve them in Label Studio so one answer remains")
        return None
    return found[0] if found else None


def _task_meta(data: dict, where: str, problems: list[str]) -> dict:
    """The label record's other fields, as :func:`to_tasks` put them in ``data.meta`` (checked)."""
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        problems.append(f"{where}: data.meta must be an object of the label's other fields (as `labels export` "
                        f"writes it), found {type(meta).__name__}")
        return {}
    clash = [k for k in meta if k in CORE_FIELDS]
    if clash:
        problems.append(f"{where}: data.meta must not hold {clash}: the topics come from the annotation and the "
                        "rest from data (text, utt_id, municipality, date, speaker); remove them from data.meta")
    for field in TEXT_META:
        if field in meta and not isinstance(meta[field], str):
            problems.append(f"{where}: data.meta.{field} must be a string, found {meta[field]!r:.40}")
    if lone_surrogate(json.dumps(meta, ensure_ascii=False)) is not None:
        problems.append(f"{where}: data.meta holds a lone surrogate; expected valid Unicode text")
    return meta


def _task_record(task: object, where: str, ids: list[str], problems: list[str]) -> tuple[dict | None, bool]:
    """(record or None, annotated?) for one task; problems appended."""
    data = task.get("data") if isinstance(task, dict) else None
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a task object with a 'data' object")
        return None, True
    before = len(problems)
    for field in ("utt_id", "text"):  # the rules of `labels validate`: any non-empty id, a text not only blanks
        if not isinstance(data.get(field), str) or not (data[field].strip() if field == "text" else data[field]):
            problems.append(f"{where}: data.{field} must be a non-empty string, found {data.get(field)!r:.40}; "
                            "export tasks with `gikai-topics labels export` so each keeps its utterance id and text")
    for field in DATA_FIELDS:
        if data.get(field) is not None and not isinstance(data[field], str):
            problems.append(f"{where}: data.{field} must be a string or null, found {data[field]!r:.40}")
    meta = _task_meta(data, where, problems)
    topics = _task_topics(task, where, problems)
    if topics is not None:
        unknown = [t for t in topics if t not in ids]
        if unknown:
            problems.append(f"{where}: unknown topic id(s) {unknown}; known ids are {ids} (labels/topics.yaml)")
    if len(problems) > before or topics is None:
        return None, topics is not None
    order = {t: i for i, t in enumerate(ids)}
    rec = {"id": data["utt_id"], **{f: data.get(f) for f in DATA_FIELDS}, "text": data["text"],
           "topics": sorted(topics, key=order.__getitem__), **meta}
    return rec, True


def _control_names(tasks: list) -> set:
    """``from_name`` of every result item of every annotation (empty if no reader chose anything)."""
    return {str(item.get("from_name"))[:40] for task in tasks if isinstance(task, dict)
            for ann in (task.get("annotations") if isinstance(task.get("annotations"), list) else [])
            if isinstance(ann, dict) and not ann.get("was_cancelled")
            for item in (ann.get("result") if isinstance(ann.get("result"), list) else [])
            if isinstance(item, dict)}


def parse_label_studio(path: Path, taxonomy: Taxonomy, existing: list[Path | None]) -> ImportResult:
    """Validate a Label Studio JSON export; raise :class:`LabelError` listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise LabelError(f"{path}: expected a Label Studio JSON export (a list of tasks), cannot parse it: {exc}") from None
    tasks = loads_line(text, f"{path}: expected a Label Studio JSON export (a list of tasks), cannot parse it", LabelError)
    if not isinstance(tasks, list):
        raise LabelError(f"{path}: expected a list of tasks (Label Studio 'JSON' export), found {type(tasks).__name__}")
    by_id, by_group, index = existing_labels(existing, taxonomy)
    problems: list[str] = []
    result = ImportResult([])
    seen_ids: dict[str, str] = {}  # within this file: id -> where
    seen_groups: dict[str, tuple[str, tuple]] = {}  # group -> (where, topics)
    for n, task in enumerate(tasks, 1):
        tid = task.get("id") if isinstance(task, dict) else None
        where = f"{path}: task {n}" + (f" (id {tid})" if tid is not None and tid != n else "")
        rec, annotated = _task_record(task, where, taxonomy.ids, problems)
        if not annotated:
            result.unannotated += 1
        if rec is None:
            continue
        found = _check_record(rec, set(taxonomy.ids), where)
        if found:
            problems.extend(found)
            continue
        topics, g = tuple(rec["topics"]), group_key(rec["text"])
        if rec["id"] in by_id:
            old = by_id[rec["id"]]
            if old.group != g:  # the text edited in Label Studio: not the utterance that was labeled (as labels add)
                problems.append(f"{where}: {rec['id']} is already labeled at {old.where} with another text; expected "
                                f"one utterance per id: give this text its own id, or correct the label at "
                                f"{old.where} first")
            elif old.topics != topics:
                problems.append(f"{where}: {rec['id']} is already labeled {list(old.topics)} at {old.where}, here "
                                f"{list(topics)}; expected one label per utterance: to keep that label, give this task "
                                f"the same topics (or leave it out of the file); to change it, correct it at "
                                f"{old.where} first, then import again")
            else:
                result.already_present += 1
            continue
        if (line := index.where(rec["id"])) is not None:
            problems.append(f"{where}: {rec['id']} is already labeled at {line}, by a line `labels validate` refuses; "
                            "fix that line first (one label per utterance)")
            continue
        if g in by_group and by_group[g].topics != topics:
            other = by_group[g]
            problems.append(f"{where}: the same text (after normalisation) is already labeled {list(other.topics)} as "
                            f"{other.id} at {other.where}, here {list(topics)}; expected the same topics for the same "
                            "text: change one of the two")
            continue
        if rec["id"] in seen_ids:
            problems.append(f"{where}: utt_id {rec['id']!r} again (first in {seen_ids[rec['id']]})")
        elif g in seen_groups and seen_groups[g][1] != topics:
            problems.append(f"{where}: the same text (after normalisation) as {seen_groups[g][0]} but conflicting "
                            f"topics {list(topics)} vs {list(seen_groups[g][1])}")
        else:
            seen_ids[rec["id"]] = where
            seen_groups.setdefault(g, (where, topics))
            result.records.append({**rec, "source": rec.get("source") or f"label-studio:{path.name}"})
    names = _control_names(tasks)
    if names and FROM_NAME not in names:  # every per-task problem has this one cause: say it first
        problems.insert(0, f"{path}: no annotation result names the {FROM_NAME!r} control, found only "
                           f"{sorted(names)}; expected a project set up with the labeling config "
                           "`gikai-topics labels export --config-out` writes (a Choices named "
                           f"{FROM_NAME!r}): rename the control there and in this file, then import again")
    if problems:
        shown = "\n".join(problems[:50]) + (f"\n... and {len(problems) - 50} more" if len(problems) > 50 else "")
        raise LabelError(f"{len(problems)} problem(s) in {path}; nothing was written:\n{shown}")
    return result


def import_label_studio(path: Path, out: Path, taxonomy: Taxonomy, *, labels_dir: Path | None) -> ImportResult:
    """Validate ``path`` fully, then append its new labels to ``out`` in one atomic write."""
    check_label_out(out)
    with labels_locked([labels_dir, out]):  # no other writer labels one of these meanwhile (see labels_locked)
        result = parse_label_studio(path, taxonomy, [labels_dir, out])
        if result.records:
            result.note = append_lines_atomically(out, result.records)
    return result
