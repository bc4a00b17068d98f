"""The check of a review: every label a reviewer changed, and some kept, read again by two more readers.

A review (``labels select`` or ``labels suspects``, then ``labels revise``) changes labels on one reader's word.
Its check reads those changes again, independently, twice, and decides each by the majority of the three readings:

* ``labels checks`` draws the check sample from the review's own records: the readers' files it read (the label
  before the review in ``current_topics``, the text) and the reviewer's answers (``id<TAB>topics<TAB>why``, as
  ``labels revise`` reads them).  Every id whose answer differs from the topics shown, and ``--kept`` ids whose
  answer kept them (so that the checkers cannot know which is which), shuffled and split into ``--parts`` files in
  the readers' format.  The checkers see the label before the review, as the reviewer did: they decide afresh
  instead of confirming a change.
* ``labels second-pass`` turns one checker's answers to one check file into a label file (the labels' utterances,
  the checker's topics, the reason as ``note``) for ``labels agreement`` and ``labels adjudicate``.

Both read everything before writing anything, list every problem as ``file:line: what``, and write all their
files or none.
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path
from typing import Sequence

from ..errors import InputError, LabelError
from ..jsonline import loads_line
from .batches import read_text
from .revise import Decision, parse_changes
from .rewrite import fail
from .store import LabelSet, label_set_folder
from .suspects import jsonl_text

READING = ('expected the readers\' files the review read: JSONL lines from `labels select` or `labels suspects` '
           'with a string "id", a string "text" and "current_topics" (a list of topic ids)')


@dataclasses.dataclass(frozen=True)
class Reading:
    """One utterance of a readers' file, as the reviewer was shown it."""

    record: dict
    where: str

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def shown(self) -> frozenset[str]:
        return frozenset(self.record["current_topics"])


def _files(given: Path, suffix: str, what: str) -> list[Path]:
    if not given.is_dir():
        return [given]  # a missing file is reported by read_text
    found = sorted(p for p in given.rglob(f"*{suffix}") if p.is_file())
    if not found:
        raise InputError(f"{given}: a folder with no {suffix} file (subfolders included); expected {what}")
    return found


def read_readings(paths: Sequence[Path], topic_ids: Sequence[str]) -> dict[str, Reading]:
    """The utterances of the readers' files (files or folders of ``.jsonl``), by id."""
    known, out, problems = set(topic_ids), {}, []
    for path in (f for p in map(Path, paths) for f in _files(p, ".jsonl", "the readers' files (.jsonl)")):
        text = read_text(path, "readers'").removeprefix("\ufeff")
        for n, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                record = loads_line(line.rstrip("\r"), where, LabelError)
            except LabelError as exc:
                problems.append(str(exc))
                continue
            rid = record.get("id") if isinstance(record, dict) else None
            shown = record.get("current_topics") if isinstance(record, dict) else None
            if (not isinstance(rid, str) or not rid.strip() or not isinstance(record.get("text"), str)
                    or not isinstance(shown, list) or not all(isinstance(t, str) for t in shown)):
                problems.append(f"{where}: found {line.strip()!r:.80}")
                continue
            if unknown := [t for t in shown if t not in known]:
                problems.append(f"{where}: unknown topic id(s) {unknown} in current_topics of {rid}")
            elif rid in out:
                problems.append(f"{where}: {rid} again (first at {out[rid].where}); expected each utterance once")
            else:
                out[rid] = Reading(record, where)
    if problems:
        raise fail(problems, READING)
    if not out:
        raise LabelError(f"{', '.join(map(str, paths))}: no utterances found; {READING}")
    return out


def read_decisions(paths: Sequence[Path], topic_ids: Sequence[str]) -> dict[str, tuple[Decision, Path]]:
    """The reviewer's answers (files or folders of ``.tsv``), by id: one decision per id over all of them."""
    out: dict[str, tuple[Decision, Path]] = {}
    problems = []
    for path in (f for p in map(Path, paths) for f in _files(p, ".tsv", "the reviewer's answers (.tsv)")):
        for d in parse_changes(path, list(topic_ids)):
            if d.id in out:
                first, where = out[d.id]
                problems.append(f"{path}:{d.lineno}: {d.id} again (first at {where}:{first.lineno}); expected one "
                                "decision per id over all the answers")
            else:
                out[d.id] = (d, path)
    if problems:
        raise fail(problems)
    return out


def _match(readings: dict[str, Reading], decisions: dict, answers_shown: str) -> None:
    """Every utterance read has exactly one answer, and every answer is for an utterance read."""
    problems = [f"{path}:{d.lineno}: {rid} is in none of the readers' files" for rid, (d, path) in decisions.items()
                if rid not in readings]
    unanswered = [r for rid, r in readings.items() if rid not in decisions]
    problems += [f"{r.where}: {r.id} has no answer in {answers_shown}" for r in unanswered]
    if problems:
        raise fail(problems, "expected one answer (id<TAB>topics<TAB>why) for every utterance of the readers' files "
                   "and none for others: give every answers file of the review, and its readers' files")


@dataclasses.dataclass
class CheckSample:
    read: int  # utterances the review read
    changed: list[str]  # ids whose answer changed the topics shown
    kept_total: int  # ids whose answer kept them
    kept: list[str]  # those of them drawn into the check
    parts: list[list[dict]]  # the check files' lines


def draw_checks(readings: Sequence[Path], answers: Sequence[Path], topic_ids: Sequence[str], *, kept: int = 40,
                parts: int = 2, seed: int = 0) -> CheckSample:
    """Every change of a review and ``kept`` labels it kept, shuffled (``seed``) into ``parts`` check files."""
    if not readings or not answers:
        raise InputError("expected the review's readers' files (--reading) and the reviewer's answers (--answers), "
                         f"found {len(readings)} reading and {len(answers)} answers path(s)")
    if isinstance(kept, bool) or not isinstance(kept, int) or kept < 0:
        raise InputError(f"--kept: expected a count >= 0 of kept labels mixed in, found {kept!r}")
    if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
        raise InputError(f"--parts: expected a number >= 1 of check files (each read by two readers), found {parts!r}")
    by_id = read_readings(readings, topic_ids)
    decisions = read_decisions(answers, topic_ids)
    _match(by_id, decisions, ", ".join(map(str, answers)))
    changed = sorted(rid for rid, (d, _) in decisions.items() if frozenset(d.topics) != by_id[rid].shown)
    unchanged = sorted(set(by_id) - set(changed))
    rng = random.Random(seed)
    drawn = rng.sample(unchanged, min(kept, len(unchanged)))
    ids = changed + drawn
    if len(ids) < parts:
        raise InputError(f"--parts {parts}: the check has {len(ids)} utterance(s) ({len(changed)} changed, "
                         f"{len(drawn)} kept); expected at least one per part: lower --parts or raise --kept")
    rng.shuffle(ids)
    size, extra = divmod(len(ids), parts)
    chunks, start = [], 0
    for k in range(parts):
        end = start + size + (k < extra)
        chunks.append([_check_line(by_id[i].record) for i in ids[start:end]])
        start = end
    return CheckSample(len(by_id), changed, len(unchanged), drawn, chunks)


def _check_line(record: dict) -> dict:
    """A check file's line: the readers' file's, without what the review was chosen by (``rows_to_check``)."""
    return {k: record.get(k) for k in ("id", "municipality", "date", "speaker", "current_topics", "text")}


def check_paths(out_dir: Path, parts: int) -> list[Path]:
    return [Path(out_dir) / f"check{k}.jsonl" for k in range(1, parts + 1)]


def check_check_outputs(out_dir: Path, parts: int, readings: Sequence[Path], answers: Sequence[Path],
                        labels_path: Path) -> None:
    """Refuse, before reading anything, check files that cannot be written, that would replace the review's own
    files, or that would land among the labels (``labels validate`` would read them as labels)."""
    from ..atomic import check_writable

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out-dir {out_dir}: is a file; expected a folder for the check files")
    _apart_from_labels(out_dir, labels_path, "--out-dir", "e.g. a folder beside the review's files")
    for path in check_paths(out_dir, parts):
        check_writable(path, "--out-dir", inputs=[*readings, *answers])


def _apart_from_labels(folder: Path, labels_path: Path, option: str, instead: str) -> None:
    labels_folder = Path(labels_path) if Path(labels_path).is_dir() else label_set_folder(labels_path)
    if labels_folder is not None and os.path.realpath(folder) == os.path.realpath(labels_folder):
        raise InputError(f"{option} {folder}: is the labels folder {labels_folder}, whose .jsonl files are read as "
                         f"labels; expected another folder ({instead})")


def write_checks(sample: CheckSample, out_dir: Path) -> list[Path]:
    from ..atomic import atomic_write_all

    paths = check_paths(out_dir, len(sample.parts))
    atomic_write_all([(p, jsonl_text(lines)) for p, lines in zip(paths, sample.parts)])
    return paths


def checks_summary(sample: CheckSample, paths: Sequence[Path]) -> list[str]:
    files = ", ".join(f"{p} ({len(lines)})" for p, lines in zip(paths, sample.parts))
    return [f"{sample.read:,} utterance(s) read by the review: {len(sample.changed):,} changed, "
            f"{sample.kept_total:,} kept",
            f"check: the {len(sample.changed):,} change(s) and {len(sample.kept):,} kept label(s), shuffled, in "
            f"{files}; each shows the label before the review",
            "next: two readers read each check file independently against labels/GUIDELINES.md (neither sees the "
            "review's answers) and answer id<TAB>topics<TAB>why; then gikai-topics labels second-pass ANSWERS.tsv "
            "--check CHECK.jsonl --annotator READER --out labels/agreement/NAME-A.jsonl (and -B), labels agreement, "
            "and labels adjudicate labels/ NAME-A.jsonl NAME-B.jsonl"]


# --------------------------------------------------------------------------- labels second-pass

def check_second_pass_output(out: Path, answers: Path, check: Path, labels: LabelSet, labels_path: Path) -> None:
    from ..atomic import check_writable

    _apart_from_labels(Path(out).parent, labels_path, "--out", "e.g. labels/agreement/")
    check_writable(out, "--out", inputs=[answers, check, *labels.files])


def second_pass(answers: Path, check: Path, labels: LabelSet, topic_ids: Sequence[str], *, annotator: str,
                batch: str | None = None) -> list[dict]:
    """One checker's answers to one check file as label records (``labels agreement``, ``labels adjudicate``): each
    utterance of the check as labeled (its text and metadata from ``labels``), with the checker's topics, name,
    ``batch`` (default: the check file's name) and reason as ``note``."""
    annotator = annotator.strip() if isinstance(annotator, str) else ""
    if not annotator or "\n" in annotator:
        raise InputError(f"--annotator: expected the checker's name (e.g. reader-R12), found {annotator!r:.60}")
    batch = (batch if batch is not None else Path(check).stem).strip()
    if not batch or "\n" in batch:
        raise InputError(f"--batch: expected a name for this second pass, found {batch!r:.60}")
    readings = read_readings([check], topic_ids)
    decisions = read_decisions([answers], topic_ids)
    _match(readings, decisions, str(answers))
    by_id = {ex.id: ex for ex in labels.examples}
    problems = [f"{r.where}: {rid} is not labeled under the labels given" for rid, r in readings.items()
                if rid not in by_id]
    problems += [f"{r.where}: the text of {rid} differs from its label's at {by_id[rid].where}"
                 for rid, r in readings.items() if rid in by_id and r.record["text"] != by_id[rid].text]
    if problems:
        raise fail(problems, "expected a check file drawn (labels checks) from readings of these labels")
    out = []
    for rid in readings:
        ex, (d, _) = by_id[rid], decisions[rid]
        out.append({"id": rid, "municipality": ex.municipality, "date": ex.date, "speaker": ex.speaker,
                    "text": ex.text, "topics": [t for t in topic_ids if t in d.topics], "annotator": annotator,
                    "batch": batch, "note": d.why})
    return out


def write_second_pass(records: list[dict], out: Path) -> None:
    from ..atomic import atomic_write_all

    atomic_write_all([(out, jsonl_text(records))])
