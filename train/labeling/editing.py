"""Growing the labeled data safely: every write validates first and is atomic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from ..appending import append_line_durably, mend_last_line
from ..atomic import atomic_write_text, check_writable
from ..locks import file_locked
from ..corpus import group_key, read_jsonl
from ..errors import InputError, LabelError
from ..jsonline import loads_line
from ..taxonomy import Taxonomy
from .batches import merge, write_batches
from .labeled import LabeledIndex, labels_locked
from .store import Example, _check_record, read_labels


def make_batches(pool: Path, out_dir: Path, *, prefix: str, max_chars: int) -> list[Path]:
    from .pool import read_selection

    records = list(read_jsonl(pool))
    return write_batches(records, out_dir, prefix=prefix, max_chars=max_chars, selection=read_selection(pool))


def existing_labels(paths: list[Path | None], taxonomy: Taxonomy) -> tuple[dict[str, Example], dict[str, Example],
                                                                        LabeledIndex]:
    """What is already labeled under ``paths`` (label folders or files; None, missing or empty ones skipped): the
    first label of each id and of each near-duplicate group, and the ids of every label line, valid or not (see
    :class:`~.labeled.LabeledIndex`).  ``labels add``/``merge`` and ``labels import`` check new labels against it."""
    by_id: dict[str, Example] = {}
    by_group: dict[str, Example] = {}
    for path in paths:
        if path is None or not path.exists() or (path.is_dir() and not any(path.glob("*.jsonl"))):
            continue
        labels, _ = read_labels(path, taxonomy, strict=False)
        for ex in labels.examples:
            by_id.setdefault(ex.id, ex)
            by_group.setdefault(ex.group, ex)
    return by_id, by_group, LabeledIndex(paths).refresh()


def _check_new(records: list[dict], taxonomy: Taxonomy, labels_dir: Path | None, *,
               skip_same: bool = False) -> tuple[list[dict], list[str]]:
    """Every record valid (the checks of ``labels validate``), none repeating another or an existing label.

    Returns the records to write and, for those left out because their id is already labeled with the same
    topics (``skip_same``: a batch read again, or one whose pool held utterances labeled since), where that label
    is; without ``skip_same`` such a record is refused like any other already labeled."""
    by_id, by_group, index = existing_labels([labels_dir], taxonomy)
    ids = set(taxonomy.ids)
    problems = []
    keep: list[dict] = []
    same: list[str] = []
    seen_ids: set[str] = set()
    seen_groups: dict[str, tuple] = {}
    for n, r in enumerate(records, 1):
        found = _check_record(r, ids, f"record {n}" + (f" ({r['id']})" if isinstance(r, dict)
                                                        and isinstance(r.get("id"), str) else ""))
        if found:
            problems.extend(found)
            continue
        topics, g = tuple(sorted(r["topics"])), group_key(r["text"])
        old = by_id.get(r["id"])
        same_topics = old is not None and topics == tuple(sorted(old.topics))
        if r["id"] in seen_ids:
            problems.append(f"{r['id']}: appears twice in what is being added")
        elif same_topics and old.group != g:
            problems.append(f"{r['id']}: already labeled at {old.where} with another text; expected one utterance "
                            f"per id: give this text its own id, or correct the label at {old.where} first")
        elif same_topics and skip_same:
            same.append(old.where)
        elif old is not None:
            problems.append(f"{r['id']}: already labeled {list(old.topics)} at {old.where}, here "
                            f"{sorted(r['topics'])}; expected one label per utterance: to keep that label, give the "
                            f"same topics here, to change it, correct it at {old.where} first")
        elif (where := index.where(r["id"])) is not None:
            problems.append(f"{r['id']}: already labeled at {where}, by a line `labels validate` refuses; fix that "
                            "line first (one label per utterance)")
        elif g in by_group and topics != tuple(sorted(by_group[g].topics)):
            other = by_group[g]
            problems.append(f"{r['id']}: the same text (after normalisation) is already labeled {list(other.topics)} "
                            f"as {other.id} at {other.where}, here {sorted(r['topics'])}; expected the same topics "
                            "for the same text: change one of the two")
        elif g in seen_groups and topics != seen_groups[g]:
            problems.append(f"{r['id']}: the same text (after normalisation) is added twice with different topics")
        else:
            keep.append(r)
        seen_ids.add(r["id"])
        seen_groups.setdefault(g, topics)
    if problems:
        raise LabelError("; ".join(problems[:20]) + (f" (+{len(problems) - 20} more)" if len(problems) > 20 else "")
                         + "; nothing was written")
    return keep, same


def check_label_out(out: Path) -> None:
    """A file that ``labels validate`` and ``train`` will read: ``*.jsonl``, writable, valid UTF-8 if it exists,
    and without a last line that an append would have to refuse (see :func:`~train.appending.mend_last_line`: one
    with a mistake in it, typed by hand), so a command or a label session stops before any work."""
    if out.is_dir() or not out.name.endswith(".jsonl"):
        raise InputError(f"--out: expected a .jsonl label file (e.g. labels/extra.jsonl), found {out}")
    check_writable(out, "--out")
    if out.exists():
        data = out.read_bytes()
        try:  # the whole lines; the last one, if unfinished, is read by mend_last_line
            data[:data.rfind(b"\n") + 1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LabelError(f"{out}: invalid UTF-8 at byte {exc.start}; fix or move the file before adding to it") from None
        mend_last_line(out, data)  # raises for a last line it would not touch


class Merged(NamedTuple):
    appended: int  # records appended
    same: int  # records left out because already labeled with the same topics
    note: str | None = None  # an unfinished last line removed from ``out`` (see mend_last_line)


def merge_answers(batch: Path, answers: Path, out: Path, *, annotator: str, taxonomy: Taxonomy,
                  labels_dir: Path | None = None) -> Merged:
    """Append a batch's answered records to ``out`` in one atomic write, or nothing."""
    check_label_out(out)
    records = merge(batch, answers, taxonomy.ids, annotator=annotator, batch=batch.stem)
    labels_dir = labels_dir if labels_dir is not None else out.parent
    with labels_locked([labels_dir, out]):  # no other writer labels one of these meanwhile (see labels_locked)
        records, same = _check_new(records, taxonomy, labels_dir, skip_same=True)
        note = append_lines_atomically(out, records) if records else None
    return Merged(len(records), len(same), note)


def append_lines_atomically(out: Path, records: list[dict]) -> str | None:
    """Add ``records`` to the end of ``out`` in one atomic rewrite, under the lock appenders take (a label
    session writing to the same file meanwhile must not have its line dropped with the old version).  A last
    line without its newline is dealt with as by every append (:func:`~train.appending.mend_last_line`); returns
    its note of a line removed, or None."""
    with file_locked(out):
        data, note = mend_last_line(out, out.read_bytes() if out.exists() else b"")
        atomic_write_text(out, data.decode("utf-8") + "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                               for r in records))
    return note


def record_from_args(json_record: str | None, **fields) -> dict:
    if json_record is not None:
        given = [f"--{k}" for k, v in fields.items() if v is not None]
        if given:  # they were dropped without a word: the label written was not the one asked for
            raise InputError(f"--json: expected the whole record in the JSON alone, found also {', '.join(given)}; "
                             "put those fields into the JSON, or leave --json out")
        rec = loads_line(json_record, "--json", InputError)
        if not isinstance(rec, dict):
            raise InputError("--json: expected a JSON object")
    else:
        rec = {k: v for k, v in fields.items() if v is not None}
        rec["topics"] = [t.strip() for t in (fields.get("topics") or "").split(",") if t.strip()]
    if not isinstance(rec.get("id"), str) or not rec["id"]:
        raise InputError("id: expected a non-empty string (--id or the JSON's 'id')")
    if not isinstance(rec.get("text"), str) or not rec["text"].strip():
        raise InputError("text: expected a non-empty string (--text or the JSON's 'text')")
    if not isinstance(rec.get("topics"), list):
        raise InputError("topics: expected a list of topic ids")
    return rec


class Added(NamedTuple):
    note: str | None  # an unfinished last line removed from ``out`` (see mend_last_line)
    already: str | None = None  # where the utterance is already labeled with the same topics (nothing appended)


def add_label(record: dict, out: Path, *, labels_dir: Path | None, taxonomy: Taxonomy) -> Added:
    """Append one label (checked first).  An utterance already labeled with the same topics is left as it is, as
    ``labels merge`` and ``labels import`` leave it: adding it again is not an error, and appends nothing."""
    check_label_out(out)
    with labels_locked([labels_dir, out]):  # no other writer labels it meanwhile (see labels_locked)
        keep, same = _check_new([record], taxonomy, labels_dir, skip_same=True)
        if not keep:
            return Added(None, same[0])
        return Added(append_line_durably(out, json.dumps(record, ensure_ascii=False)))
