"""Reading batches for parallel labeling.

A team splits a pool of utterances into batches; each reader gets a plain-text
reading file (``<key> | assembly | date | speaker`` then the full text) and
answers in a TSV file of ``key<TAB>topic,topic<TAB>note`` lines.  ``merge``
joins the answers back to the utterances, checks every key was answered
exactly once with known topic ids, and returns label records.

A key is ``<prefix>-<hash>-<number>``: the hash is that of the batch's utterances, so answers written
for one batch never fit another, even one written to the same file name by a later run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from pathlib import Path
from typing import Iterable

from ..atomic import atomic_write_text
from ..corpus import Record
from ..errors import InputError, LabelError
from ..jsonline import loads_line, lone_surrogate


HASH_CHARS = 6
#: a key as ``labels batch`` writes it: ``<prefix>-<hash of the batch's utterances>-<number>``
_KEY = re.compile(rf"(?P<stem>.+)-(?P<hash>[0-9a-f]{{{HASH_CHARS}}})-(?P<n>[0-9]{{4,}})")


def is_batch_key(value: str) -> bool:
    """Whether ``value`` has the form of a key ``labels batch`` writes (not a label id)."""
    return _KEY.fullmatch(value) is not None


def batch_hash(records: Iterable[tuple[str, str]]) -> str:
    """A short hash of a batch's ``(id, text)`` pairs, in order: part of every key, so answers to one batch
    cannot be merged onto the utterances of another that reuses its file name."""
    h = hashlib.sha256()
    for rid, text in records:
        h.update(json.dumps([rid, text]).encode("ascii"))
    return h.hexdigest()[:HASH_CHARS]


def check_prefix(prefix: str) -> None:
    """A prefix names files in --out-dir and starts every key a reader types back into a TSV line."""
    bad = [c for c in prefix if c in "/\\|" or c.isspace() or c == "\0"]
    if not prefix or bad or prefix in (".", ".."):
        raise InputError(f"--prefix: expected a short name without path separators, spaces or '|' (e.g. 'b' or "
                         f"'round7'), found {prefix!r}")


def existing_batches(out_dir: Path, prefix: str) -> list[Path]:
    """Batch files of ``prefix`` already in ``out_dir`` (``<prefix>-NN.txt`` / ``.jsonl``)."""
    if not out_dir.is_dir():
        return []
    pattern = re.compile(re.escape(prefix) + r"-[0-9]{2,}\.(txt|jsonl)")
    return sorted(p for p in out_dir.iterdir() if pattern.fullmatch(p.name))


def write_batches(records: Iterable[Record], out_dir: Path, *, prefix: str, max_chars: int = 30000,
                  selection: dict[str, str] | None = None) -> list[Path]:
    """Split records into reading files of at most ``max_chars`` characters each.

    Writes ``<prefix>-NN.txt`` (what the reader reads) and ``<prefix>-NN.jsonl``
    (the records, keyed, with their ``selection`` note when ``selection`` has one; the reading
    file never shows it) per batch.  Keys are ``<prefix>-<hash>-<number>``, the hash of the batch's
    utterances (see :func:`batch_hash`).  Refuses an ``out_dir`` that already holds batches of
    ``prefix``: they would be overwritten under readers who have them.  Returns the reading files.
    """
    selection = selection or {}
    check_prefix(prefix)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out-dir {out_dir}: is a file; expected a folder for the reading files")
    found = existing_batches(out_dir, prefix)
    if found:
        names = ", ".join(p.name for p in found[:4]) + (", ..." if len(found) > 4 else "")
        raise InputError(f"--out-dir {out_dir}: expected no batch files of prefix {prefix!r}, found {len(found)} "
                         f"({names}); a new run would replace batches readers may be answering: choose another "
                         "--out-dir or --prefix")
    for rid, note in selection.items():
        if lone_surrogate(note) is not None:
            raise InputError(f"selection note of {rid}: holds a lone surrogate; expected valid Unicode text")
    batches: list[list[Record]] = [[]]
    size = 0
    for rec in records:
        if batches[-1] and size + len(rec.text) > max_chars:
            batches.append([])
            size = 0
        batches[-1].append(rec)
        size += len(rec.text) + 60
    files: list[tuple[Path, str]] = []  # every file's text first: what is written is all built
    n = 0
    for i, batch in enumerate(b for b in batches if b):
        h = batch_hash((r.id, r.text) for r in batch)
        keyed = []
        for rec in batch:
            n += 1
            keyed.append((f"{prefix}-{h}-{n:04d}", rec))
        lines = []
        for key, rec in keyed:
            lines.append(f"### {key} | {rec.municipality or '-'} | {rec.date or '-'} | {rec.speaker or '-'}")
            lines.append(rec.text)
            lines.append("")
        files.append((out_dir / f"{prefix}-{i + 1:02d}.txt", "\n".join(lines)))
        files.append((out_dir / f"{prefix}-{i + 1:02d}.jsonl", "".join(
            json.dumps({"key": k, **r.to_dict(), **({"selection": selection[r.id]} if r.id in selection else {})},
                       ensure_ascii=False) + "\n" for k, r in keyed)))
    _write_all_or_none(files, out_dir)
    return [path for path, _ in files if path.suffix == ".txt"]


def _write_all_or_none(files: list[tuple[Path, str]], out_dir: Path) -> None:
    """Write every file, or (on an error, Ctrl-C or SIGTERM) remove again those already written: half a set of
    batches would be refused by the next run as batches readers may be answering."""
    made = not out_dir.exists()
    done: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for path, text in files:
            atomic_write_text(path, text)
            done.append(path)
    except BaseException as exc:
        for path in done:
            path.unlink(missing_ok=True)
        if made:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        if isinstance(exc, OSError):
            raise InputError(f"--out-dir {out_dir}: cannot write {path.name} ({exc.strerror or exc}); nothing was "
                             "written") from None
        raise


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what} file") from None
    except UnicodeDecodeError as exc:
        raise LabelError(f"{path}: invalid UTF-8 at byte {exc.start}; the {what} file must be UTF-8") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} file ({exc.strerror})") from None


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped ("" for none): what kind of file a reader gave."""
    return next((line.strip() for line in text.split("\n") if line.strip()), "")


def parse_answers(path: Path, topic_ids: Iterable[str]) -> dict[str, tuple[list[str], str | None]]:
    """Read a reader's TSV answers: ``key<TAB>topics<TAB>note`` (a note may hold tabs; a byte-order mark, as
    Windows editors and spreadsheets write, is dropped)."""
    answers: dict[str, tuple[list[str], str | None]] = {}
    problems = []
    order = list(dict.fromkeys(topic_ids))
    known = set(order)
    text = read_text(path, "answers").removeprefix("\ufeff")
    first = next((line for line in text.splitlines() if line.strip()), "")
    if first.startswith("### ") and " | " in first or first.lstrip().startswith("{"):
        found = "the reading file" if first.startswith("#") else "JSON lines (a batch's records?)"
        raise LabelError(f"{path}: expected the reader's answers (key<TAB>topics<TAB>note lines), found {found}; "
                         "usage: gikai-topics labels merge BATCH.jsonl ANSWERS.tsv --out FILE --annotator NAME")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        key = parts[0].strip()
        raw = parts[1].strip() if len(parts) > 1 else ""
        note = "\t".join(parts[2:]).strip() or None
        topics = [t.strip() for t in raw.replace(" ", ",").split(",") if t.strip() and t.strip() != "-"]
        unknown = [t for t in topics if t not in known]
        if unknown:
            problems.append(f"{path}:{lineno}: unknown topic id(s) {unknown} for {key}")
        if key in answers:
            problems.append(f"{path}:{lineno}: {key} answered twice")
        answers[key] = (topics, note)
    if problems:
        expected = (f"; expected topic ids of the taxonomy, separated by ',' or spaces ('-' or nothing for no topic): "
                    f"{', '.join(order)}" if any("unknown topic" in p for p in problems) else "")
        raise LabelError("; ".join(problems[:20]) + (f" (+{len(problems) - 20} more)" if len(problems) > 20 else "")
                         + expected + "; nothing was written")
    return answers


def read_batch(batch_jsonl: Path) -> list[dict]:
    """The records of a batch file, checked: each with a string ``key``, ``id`` and non-empty ``text``, no key twice,
    and keys whose hash matches the records (a batch file from before keys had a hash is read as it is)."""
    records = []
    first: dict[str, int] = {}
    text = read_text(batch_jsonl, "batch").removeprefix("\ufeff")  # saved by a Windows editor
    opening = next((line for line in text.split("\n") if line.strip()), "")
    if not opening.lstrip().startswith("{"):
        found = ("the reading file" if opening.startswith("### ") else
                 "tab-separated lines (a reader's answers?)" if "\t" in opening else f"{opening!r:.40}")
        raise LabelError(f"{batch_jsonl}: expected the batch's records (JSON lines, the .jsonl `labels batch` wrote "
                         f"beside the reading file), found {found}; usage: gikai-topics labels merge BATCH.jsonl "
                         "ANSWERS.tsv --out FILE --annotator NAME")
    for lineno, line in enumerate(text.split("\n"), 1):  # not at U+2028 in a text
        if not line.strip():
            continue
        r = loads_line(line, f"{batch_jsonl}:{lineno}", LabelError)
        if (not isinstance(r, dict) or not isinstance(r.get("key"), str) or not isinstance(r.get("id"), str)
                or not isinstance(r.get("text"), str) or not r["text"].strip()):
            found = (f"a {type(r).__name__}" if not isinstance(r, dict) else
                     ", ".join(f"{f}={r.get(f)!r:.30}" for f in ("key", "id", "text")))
            raise LabelError(f"{batch_jsonl}:{lineno}: expected a batch record with 'key', 'id' (strings) and a "
                             f"non-empty 'text' (as written by `labels batch`), found {found}; write the batch "
                             "again with `labels batch` into a new --out-dir")
        if r["key"] in first:
            raise LabelError(f"{batch_jsonl}:{lineno}: key {r['key']!r} again (first on line {first[r['key']]}); "
                             "expected each key once, or one answer would label two utterances: write the batch "
                             "again with `labels batch` into a new --out-dir")
        first[r["key"]] = lineno
        records.append(r)
    parsed = [_KEY.fullmatch(r["key"]) for r in records]
    if any(parsed):
        hashes = {m.group("hash") if m else None for m in parsed}
        want = batch_hash((r["id"], r["text"]) for r in records)
        if hashes != {want}:
            raise LabelError(f"{batch_jsonl}: expected every key to carry the hash of this batch's utterances "
                             f"({want}), found {sorted(map(str, hashes))}; the file was edited or mixed with "
                             "another batch: use the batch file exactly as `labels batch` wrote it")
    return records


def merge(batch_jsonl: Path, answers_tsv: Path, topic_order: list[str], *, annotator: str, batch: str) -> list[dict]:
    """Join one batch's records with a reader's answers into label records."""
    answers = parse_answers(answers_tsv, topic_order)
    records = read_batch(batch_jsonl)
    keys = {r["key"] for r in records}
    missing = [r["key"] for r in records if r["key"] not in answers]
    extra = sorted(set(answers) - keys)
    # a key followed by spaces or a comma instead of a tab (an editor's tab setting, a spreadsheet's CSV)
    glued = [(x, k) for x in extra for k in missing if x.startswith(k) and not x[len(k)].isalnum()]
    if glued:
        x, k = glued[0]
        raise LabelError(
            f"{answers_tsv}: expected key<TAB>topics<TAB>note on each line, found {x!r:.60}: the key {k} followed by "
            f"{x[len(k)]!r} instead of a tab ({len(glued)} such line(s)); an editor may have turned the tabs into "
            "spaces, or a spreadsheet saved CSV: separate key and topics with one tab (save as tab-separated text)"
        )
    if missing or extra:
        raise LabelError(
            f"{answers_tsv}: expected one answer for each of the {len(records)} items of {batch_jsonl}; "
            f"missing {missing[:10]}{'...' if len(missing) > 10 else ''}, unexpected {extra[:10]}; "
            f"the keys are those of the reading file {batch_jsonl.with_suffix('.txt').name}: answers written for "
            "another batch, or another run of `labels batch`, do not fit this one"
        )
    rank = {t: i for i, t in enumerate(topic_order)}
    out = []
    for r in records:
        topics, note = answers[r["key"]]
        label = {
            "id": r["id"],
            "municipality": r.get("municipality"),
            "date": r.get("date"),
            "speaker": r.get("speaker"),
            "text": r["text"],
            "topics": sorted(set(topics), key=rank.__getitem__),
            "annotator": annotator,
            "batch": batch,
        }
        if note:
            label["note"] = note
        if isinstance(r.get("selection"), str):
            label["selection"] = r["selection"]
        out.append(label)
    return out
