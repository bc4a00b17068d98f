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
from ..jsonline import loads_line, lone_surrogate
from .batches import first_line, read_text
from .revise import Decision, check_name, parse_changes
from .rewrite import fail
from .store import LabelSet, label_set_folder
from .suspects import jsonl_text

REVIEW = ("the readers' files the review read (JSONL lines from `labels select` or `labels suspects`)", "readers'")
CHECK = ("the check file the checker read (JSONL lines from `labels checks`)", "check")
_FIELDS = 'a string "id" and "text", "current_topics" (a list of topic ids), and strings or null for "municipality", ' \
          '"date" and "speaker"'


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


def _files(paths: Sequence[Path], suffix: str, what: str, problems: list[str]) -> list[Path]:
    """The files of ``paths`` (a folder: its ``suffix`` files, subfolders included), each once: a file given twice
    (also inside a folder given) is one problem, not one per line."""
    out, seen = [], {}
    for given in map(Path, paths):
        if given.is_dir():
            found = sorted(p for p in given.rglob(f"*{suffix}") if p.is_file())
            if not found:
                raise InputError(f"{given}: a folder with no {suffix} file (subfolders included); expected {what}")
        else:
            found = [given]  # a missing file is reported by its reader (read_text, read_decisions)
        for path in found:
            real = os.path.realpath(path)
            if real in seen:
                problems.append(f"{path}: given twice (also as {seen[real]}); expected each file once")
            else:
                seen[real] = path
                out.append(path)
    return out


def _reading_problem(record: object, known: set[str]) -> str | None:
    """What is wrong with one line of a readers' file, or None."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}; expected an object with {_FIELDS}"
    rid = record.get("id")
    if not isinstance(rid, str) or not rid.strip() or rid != rid.strip():
        return f"'id' is {rid!r:.60}; expected a non-empty string with no space at either end"
    if not isinstance(record.get("text"), str) or not record["text"].strip():
        return f"'text' of {rid} is {record.get('text')!r:.40}; expected the utterance's text"
    shown = record.get("current_topics")
    if not isinstance(shown, list) or not all(isinstance(t, str) for t in shown):
        return f"'current_topics' of {rid} is {shown!r:.60}; expected a list of topic ids (the label before the review)"
    if unknown := [t for t in shown if t not in known]:
        return f"unknown topic id(s) {unknown} in current_topics of {rid}"
    if len(set(shown)) != len(shown):
        return f"a topic listed twice in current_topics of {rid}: {shown}"
    for field in ("municipality", "date", "speaker"):
        if record.get(field) is not None and not isinstance(record[field], str):
            return f"'{field}' of {rid} is {type(record[field]).__name__}; expected a string or null"
    for field, value in record.items():
        if isinstance(value, str) and (at := lone_surrogate(value)) is not None:
            return f"'{field}' of {rid} holds a lone surrogate at character {at}; expected valid Unicode text"
    return None


def read_readings(paths: Sequence[Path], topic_ids: Sequence[str], what: tuple[str, str] = REVIEW
                  ) -> dict[str, Reading]:
    """The utterances of the readers' files (files or folders of ``.jsonl``), by id."""
    known, out, problems = set(topic_ids), {}, []
    expected = f"expected {what[0]}: {_FIELDS}"
    for path in _files(paths, ".jsonl", what[0], problems):
        text = read_text(path, what[1]).removeprefix("\ufeff")
        if (first := first_line(text)) and not first.startswith("{"):
            problems.append(f"{path}: its first line is not a JSON object ({first!r:.40}): is it an answers file? "
                            f"{expected}")
            continue
        for n, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                record = loads_line(line.rstrip("\r"), where, LabelError)
            except LabelError as exc:
                problems.append(str(exc))
                continue
            if problem := _reading_problem(record, known):
                problems.append(f"{where}: {problem}")
            elif record["id"] in out:
                problems.append(f"{where}: {record['id']} again (first at {out[record['id']].where}); expected each "
                                "utterance once")
            else:
                out[record["id"]] = Reading(record, where)
    if problems:
        raise fail(problems, expected)
    if not out:
        raise LabelError(f"{', '.join(map(str, paths))}: no utterances found; {expected}")
    return out


def read_decisions(paths: Sequence[Path], topic_ids: Sequence[str], what: str = "the reviewer's answers"
                   ) -> dict[str, tuple[Decision, Path]]:
    """The answers (files or folders of ``.tsv``), by id: one decision per id over all of them."""
    out: dict[str, tuple[Decision, Path]] = {}
    problems: list[str] = []
    for path in _files(paths, ".tsv", f"{what} (.tsv)", problems):
        if not path.is_file():
            problems.append(f"{path}: no such answers file; expected {what} (id<TAB>topics<TAB>why lines)")
            continue
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


def _match(readings: dict[str, Reading], decisions: dict, answers_shown: str, expected: str) -> None:
    """Every utterance read has exactly one answer, and every answer is for an utterance read."""
    problems = [f"{path}:{d.lineno}: {rid} is in none of the utterances read" for rid, (d, path) in decisions.items()
                if rid not in readings]
    unanswered = [r for rid, r in readings.items() if rid not in decisions]
    problems += [f"{r.where}: {r.id} has no answer in {answers_shown}" for r in unanswered]
    if problems:
        raise fail(problems, expected)


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
    _match(by_id, decisions, ", ".join(map(str, answers)), "expected one answer (id<TAB>topics<TAB>why) for every "
           "utterance of the readers' files and none for others: give every answers file of the review, and its "
           "readers' files")
    changed = sorted(rid for rid, (d, _) in decisions.items() if frozenset(d.topics) != by_id[rid].shown)
    unchanged = sorted(set(by_id) - set(changed))
    rng = random.Random(seed)
    drawn = rng.sample(unchanged, min(kept, len(unchanged)))
    ids = changed + drawn
    if not ids:
        raise InputError(f"nothing to check: the review changed none of its {len(by_id)} label(s) and --kept is 0")
    if len(ids) < parts:
        raise InputError(f"--parts {parts}: the check has {len(ids)} utterance(s) ({len(changed)} changed, "
                         f"{len(drawn)} kept); expected at least one per part: lower --parts"
                         + (" or raise --kept" if len(drawn) < len(unchanged) else ""))
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


def check_check_outputs(out_dir: Path, readings: Sequence[Path], answers: Sequence[Path], labels_path: Path) -> None:
    """Refuse, before reading anything, check files that cannot be written, that would replace an earlier draw (its
    checkers may be reading it) or the review's own files, or that would land among the labels (``labels validate``
    would read them as labels)."""
    from ..atomic import check_writable

    out_dir = Path(out_dir)
    if os.path.islink(out_dir) and not out_dir.exists():
        raise InputError(f"--out-dir {out_dir}: a link to {os.readlink(out_dir)}, which does not exist; expected a "
                         "folder, or a path where one can be made")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out-dir {out_dir}: is a file; expected a folder for the check files")
    _apart_from_labels(out_dir, labels_path, "--out-dir", "e.g. a folder beside the review's files")
    if out_dir.is_dir() and (old := sorted(p.name for p in out_dir.glob("check*.jsonl"))):
        raise InputError(f"--out-dir {out_dir}: holds check files already ({', '.join(old[:3])}"
                         f"{', ...' if len(old) > 3 else ''}): their checkers may be reading them, and a new draw would "
                         "replace some and leave others; expected a new folder for this check (or remove them first)")
    check_writable(out_dir / "check1.jsonl", "--out-dir", inputs=[*readings, *answers])


def _apart_from_labels(folder: Path, labels_path: Path, option: str, instead: str) -> None:
    if not Path(labels_path).exists():
        raise InputError(f"--labels {labels_path}: no such labels folder or file; expected the labels the review "
                         "was read from (default: labels/)")
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
    """Refuse, before reading the answers, an ``--out`` among the labels, over an input or over an earlier second
    pass (a record of the check: remove it first to replace it)."""
    from ..atomic import check_writable

    _apart_from_labels(Path(out).parent, labels_path, "--out", "e.g. labels/agreement/")
    check_writable(out, "--out", inputs=[answers, check, *labels.files])
    if Path(out).exists():
        raise InputError(f"--out {out}: exists already (a second pass is a record of the check); expected a new file, "
                         "or remove it first to replace it")


def second_pass(answers: Path, check: Path, labels: LabelSet, topic_ids: Sequence[str], *, annotator: str,
                batch: str | None = None) -> list[dict]:
    """One checker's answers to one check file as label records (``labels agreement``, ``labels adjudicate``): each
    utterance of the check as labeled (its text and metadata from ``labels``), with the checker's topics, name,
    ``batch`` (default: the check file's name) and reason as ``note``."""
    # a comma would split `labels adjudicate --annotators A,B`
    annotator = check_name(annotator, "--annotator", "reader-R12", comma=False)
    batch = check_name(batch if batch is not None else Path(check).stem, "--batch", "review-3-check-1")
    for path, what in ((Path(check), "--check: the check file the checker read"),
                       (Path(answers), "ANSWERS: the checker's answers file")):
        if not path.is_file():
            raise InputError(f"{path}: {'a folder' if path.is_dir() else 'no such file'}; expected {what} (one file)")
    readings = read_readings([check], topic_ids, CHECK)
    decisions = read_decisions([answers], topic_ids, "the checker's answers")
    _match(readings, decisions, str(answers), "expected one answer (id<TAB>topics<TAB>why) for every utterance of "
           "the check file and none for others: the checker's answers to this check file")
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
