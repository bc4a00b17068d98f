"""Growing the labeled data safely: every write validates first and is atomic."""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import append_line_durably, atomic_write_text, check_writable
from ..corpus import group_key, read_jsonl
from ..errors import InputError, LabelError
from ..jsonline import loads_line
from ..taxonomy import Taxonomy
from .batches import merge, write_batches
from .store import _check_record, read_labels


def make_batches(pool: Path, out_dir: Path, *, prefix: str, max_chars: int) -> list[Path]:
    from .pool import read_selection

    records = list(read_jsonl(pool))
    return write_batches(records, out_dir, prefix=prefix, max_chars=max_chars, selection=read_selection(pool))


def _existing(labels_dir: Path | None, taxonomy: Taxonomy) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """Topics of what is already labeled, by id and by near-duplicate group (empty if no labels yet)."""
    if labels_dir is None:
        return {}, {}
    try:
        labels, _ = read_labels(labels_dir, taxonomy, strict=False)
    except LabelError:  # no such folder, or no label files in it yet
        return {}, {}
    return ({ex.id: ex.topics for ex in labels.examples}, {ex.group: ex.topics for ex in labels.examples})


def _check_new(records: list[dict], taxonomy: Taxonomy, labels_dir: Path | None) -> None:
    """Every record valid (the checks of ``labels validate``), none repeating another or an existing label."""
    by_id, by_group = _existing(labels_dir, taxonomy)
    ids = set(taxonomy.ids)
    problems = []
    seen_ids: set[str] = set()
    seen_groups: dict[str, tuple] = {}
    for n, r in enumerate(records, 1):
        found = _check_record(r, ids, f"record {n}" + (f" ({r['id']})" if isinstance(r, dict)
                                                        and isinstance(r.get("id"), str) else ""))
        if found:
            problems.extend(found)
            continue
        topics, g = tuple(sorted(r["topics"])), group_key(r["text"])
        if r["id"] in by_id:
            problems.append(f"{r['id']}: already labeled")
        elif r["id"] in seen_ids:
            problems.append(f"{r['id']}: appears twice in what is being added")
        if g in by_group and topics != tuple(sorted(by_group[g])):
            problems.append(f"{r['id']}: the same text is already labeled {list(by_group[g])}")
        elif g in seen_groups and topics != seen_groups[g]:
            problems.append(f"{r['id']}: the same text (after normalisation) is added twice with different topics")
        seen_ids.add(r["id"])
        seen_groups.setdefault(g, topics)
    if problems:
        raise LabelError("; ".join(problems[:20]) + (f" (+{len(problems) - 20} more)" if len(problems) > 20 else "")
                         + "; nothing was written")


def check_label_out(out: Path) -> None:
    """A file that ``labels validate`` and ``train`` will read: ``*.jsonl``, writable, and valid UTF-8 if it exists."""
    if out.is_dir() or not out.name.endswith(".jsonl"):
        raise InputError(f"--out: expected a .jsonl label file (e.g. labels/extra.jsonl), found {out}")
    check_writable(out, "--out")
    if out.exists():
        try:
            out.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise LabelError(f"{out}: invalid UTF-8 at byte {exc.start}; fix or move the file before adding to it") from None


def merge_answers(batch: Path, answers: Path, out: Path, *, annotator: str, taxonomy: Taxonomy,
                  labels_dir: Path | None = None) -> int:
    check_label_out(out)
    records = merge(batch, answers, taxonomy.ids, annotator=annotator, batch=batch.stem)
    _check_new(records, taxonomy, labels_dir if labels_dir is not None else out.parent)
    old = out.read_text(encoding="utf-8") if out.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    atomic_write_text(out, old + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return len(records)


def record_from_args(json_record: str | None, **fields) -> dict:
    if json_record is not None:
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


def add_label(record: dict, out: Path, *, labels_dir: Path | None, taxonomy: Taxonomy) -> None:
    check_label_out(out)
    _check_new([record], taxonomy, labels_dir)
    append_line_durably(out, json.dumps(record, ensure_ascii=False))
