"""Find utterances in a tag-corpus output: by topic, assembly, dates, speaker and text, strongest or earliest first.

The file is streamed through :func:`train.tagged.read_tagged` (the reader timeline uses); with a limit only the
best ``limit`` matches are kept (a heap), so memory stays flat over the ~102k utterances of ``seeds/``.

Semantics (the ``gikai-topics find`` help and the README say the same):

* ``topics``: utterances tagged with ANY of them (tagged = the topic is in the row's ``topics``, i.e. its score is
  over the model's threshold).  None given: every utterance (the other filters still apply).
* ``min_score``: select by score instead of by tag: an utterance whose score is >= ``min_score`` on ANY of
  ``topics`` (on any topic of the file when none is given), tagged or not.  Below a topic's threshold it looks
  just under it; above, it keeps the confident tags only.
* ``sort="score"`` (the default when ``topics`` or ``min_score`` is given): the highest score among ``topics``
  (among all topics when none is given), descending; ties by date (earliest first, undated last), then id.
  ``sort="date"`` (the default otherwise): date ascending, undated last; ties by id.  Equal keys keep file order.
* ``date_from`` / ``date_to``: ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``, both inclusive; a month or a year covers
  all its days (``--from 2023 --to 2023``: the year 2023).  Utterances without a readable date cannot be in a
  range: with a bound they are left out (counted).  A date of a month without a day is in a range overlapping it.
* ``assembly``: the municipality (``(unknown)`` for rows without one, as timeline shows them) or the id prefix
  (``shinagawa``), as ``corpus sample`` reads it; one not in the file is refused, naming those that are.
* ``speaker`` / ``contains``: substrings of the speaker / the text, compared after NFKC and case folding, so
  ``DX`` finds ``ＤＸ`` and ``１４名`` finds ``14名`` (the minutes write both).
* ``limit``: how many to keep (0 = all).

How what is found is shown (JSONL, CSV, the terminal's table) is :mod:`train.find_output`'s.
"""

from __future__ import annotations

import dataclasses
import datetime
import heapq
import re
import unicodedata
from operator import itemgetter
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

from .corpus import RECORD_FIELDS, UNKNOWN_ASSEMBLY
from .errors import InputError
from .tagged import read_tagged, scored_topics
from .timeline import date_parts

SORTS = ("score", "date")
#: the decimals tag-corpus writes scores with (``shown_scores``): a Parquet float32 0.8999999762 is read back as
#: the 0.9 it stands for, so ``--min-score 0.9`` selects it and the outputs show 0.9
SCORE_DECIMALS = 5

_BOUND = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", re.ASCII)


@dataclasses.dataclass
class Found:
    """What :func:`find_utterances` found: the records kept, in order, and how many matched in all."""

    records: list[dict]
    matches: int
    topics: list[str]  # the topics asked for (empty: none)
    scored: list[str]  # every topic the file was tagged with (its score_<topic> columns)
    undated: int = 0  # utterances that matched every other filter but, undated, are in no date range

    def summary(self) -> str:
        """``20 of 1,234 matches`` when the limit cut, else ``1,234 matches``."""
        total = f"{self.matches:,} match" + ("" if self.matches == 1 else "es")
        return f"{len(self.records):,} of {total}" if len(self.records) < self.matches else total

    def fields(self) -> list[str]:
        """The fields of each record (the JSONL keys and the CSV header)."""
        return [*RECORD_FIELDS, "topics", *(f"score_{t}" for t in self.scored)]


def fold(text: str) -> str:
    """Text as compared by ``speaker`` / ``contains``: NFKC (full-width ＤＸ, １４ are DX, 14) and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def date_bound(value: Optional[str], option: str, *, end: bool) -> Optional[tuple[int, int, int]]:
    """``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` as (year, month, day): a month or a year is its first day, or its
    last when ``end`` (day 31 of a month: no date of the month is after it)."""
    if value is None:
        return None
    m = _BOUND.fullmatch(value.strip())
    try:
        if m is None:
            raise ValueError
        year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
        datetime.date(year, month, day)  # a real day: not 2023-02-30, not month 13
    except ValueError:
        raise InputError(f"{option} {value}: expected a date as YYYY-MM-DD, YYYY-MM or YYYY (e.g. 2023-04-01, "
                         "2023-04 or 2023)") from None
    if m[3]:
        return year, month, day
    return (year, int(m[2] or 12), 31) if end else (year, month, 1)


def _topic_list(topics: Iterable[str]) -> list[str]:
    """``--topic`` values, each of them also comma-separated, without repeats."""
    return list(dict.fromkeys(t.strip() for given in topics for t in str(given).split(",") if t.strip()))


def tagged_topics(path: Path) -> list[str]:
    """The topics ``path`` was tagged with; a missing, unreadable or untagged file is refused."""
    scored = scored_topics(path)
    if scored is None:
        for _ in read_tagged(path):  # says why when the file is missing, a folder or not readable
            break
        keys = "keys" if Path(path).name.lower().endswith(".jsonl") else "columns"
        raise InputError(f"{path}: no score_<topic> {keys} (or no utterance): not a file tag-corpus wrote; expected "
                         "the output of `gikai-topics tag-corpus` (.parquet or .jsonl)")
    return scored


def _check_options(limit: int, min_score: Optional[float], sort: str, speaker: Optional[str],
                   contains: Optional[str]) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InputError(f"--limit {limit}: expected a whole number >= 0 (0 = all)")
    if min_score is not None and not (isinstance(min_score, (int, float)) and 0 <= min_score <= 1):
        raise InputError(f"--min-score {min_score}: expected a score between 0 and 1")
    if sort not in SORTS:
        raise InputError(f"--sort {sort}: expected one of {', '.join(SORTS)}")
    for option, value in (("--speaker", speaker), ("--contains", contains)):
        if value is not None and not value:
            raise InputError(f"{option}: empty; expected some text to look for")


def _describe(**given) -> str:
    """The filters given, as options (``--topic privacy --assembly 品川区``)."""
    parts = []
    for name, value in given.items():
        for v in (value if isinstance(value, list) else [value]):
            if v is not None:
                parts.append(f"--{name.replace('_', '-')} {v}")
    return " ".join(parts)


def _plain(value):
    """A value as JSON and CSV hold it: a Parquet date or timestamp as its ISO text."""
    return value.isoformat() if isinstance(value, (datetime.date, datetime.time)) else value


def find_utterances(
    path: Path,
    *,
    topics: Sequence[str] = (),
    assembly: Optional[str] = None,
    date_from: Optional[str] = None,
    date_to: Optional[str] = None,
    speaker: Optional[str] = None,
    contains: Optional[str] = None,
    min_score: Optional[float] = None,
    sort: Optional[str] = None,
    limit: int = 0,
    require_match: bool = False,
) -> Found:
    """The utterances of the tag-corpus output ``path`` that pass every filter given (see the module's docstring
    for what each means), sorted, at most ``limit`` of them (0 = all).  Each record holds the corpus fields
    (:data:`RECORD_FIELDS`), ``topics`` and every ``score_<topic>``.  ``require_match``: no match is an
    :class:`InputError` (as grep fails) instead of an empty :class:`Found`."""
    path = Path(path)
    blank = [given for given in topics if not _topic_list([given])]  # "" or ",": an unset shell variable
    topics = _topic_list(topics)
    lo, hi = date_bound(date_from, "--from", end=False), date_bound(date_to, "--to", end=True)
    if lo and hi and lo > hi:
        raise InputError(f"--from {date_from} is after --to {date_to}: expected --from on or before --to")
    sort = sort or ("score" if topics or min_score is not None else "date")
    _check_options(limit, min_score, sort, speaker, contains)
    scored = tagged_topics(path)
    if blank:  # else, with no other topic, every utterance would be found as if no --topic had been given
        raise InputError(f"--topic {blank[0]!r}: empty; expected a topic {path} was tagged with: one of "
                         f"{', '.join(scored)}")
    unknown = [t for t in topics if t not in scored]
    if unknown:
        raise InputError(f"--topic {', '.join(unknown)}: not a topic {path} was tagged with; expected one of "
                         f"{', '.join(scored)}")

    selected = topics or scored  # the topics whose scores select (--min-score) and sort
    at = [scored.index(t) for t in selected]
    wanted = set(topics)
    speaker_f, contains_f = (fold(speaker) if speaker else None), (fold(contains) if contains else None)
    fields = [f for f in RECORD_FIELDS if f not in ("municipality", "date")]
    n = len(fields)
    extra = [*fields, *(f"score_{t}" for t in scored)]
    counts = {"matches": 0, "undated": 0, "read": 0}
    assemblies: set[str] = set()
    of_assembly = False

    def matching() -> Iterator[tuple[tuple, dict]]:
        nonlocal of_assembly
        for seq, (muni, date, tags, *values) in enumerate(read_tagged(path, extra)):
            counts["read"] += 1
            if assembly is not None:
                name = muni or UNKNOWN_ASSEMBLY
                assemblies.add(name)
                rid = values[0]
                if name != assembly and not (isinstance(rid, str) and rid.split(":", 1)[0] == assembly):
                    continue
                of_assembly = True
            if min_score is None and wanted and wanted.isdisjoint(tags):
                continue
            scores = [round(float(s), SCORE_DECIMALS) for s in values[n:]]
            best = max((scores[i] for i in at), default=0.0)
            if min_score is not None and best < min_score:
                continue
            row = dict(zip(fields, values[:n]))
            if speaker_f is not None and not (isinstance(row["speaker"], str) and speaker_f in fold(row["speaker"])):
                continue
            if contains_f is not None and not (isinstance(row["text"], str) and contains_f in fold(row["text"])):
                continue
            parts = date_parts(date)
            if lo or hi:
                if parts is None:
                    counts["undated"] += 1
                    continue
                first, last = (*parts[:2], parts[2] or 1), (*parts[:2], parts[2] or 31)  # a YYYY-MM date: its month
                if (lo and last < lo) or (hi and first > hi):
                    continue
            counts["matches"] += 1
            day = (0, *parts[:2], parts[2] or 0) if parts else (1, 0, 0, 0)  # undated last
            rid = "" if row["id"] is None else str(row["id"])
            key = (-best, day, rid, seq) if sort == "score" else (day, rid, seq)
            row.update(municipality=muni, date=date)
            record = {**{f: _plain(row[f]) for f in RECORD_FIELDS}, "topics": list(tags),
                      **{f"score_{t}": s for t, s in zip(scored, scores)}}
            yield key, record

    kept = heapq.nsmallest(limit, matching(), key=itemgetter(0)) if limit else sorted(matching(), key=itemgetter(0))
    if require_match and not counts["read"]:  # not "matches nothing": there is nothing to match
        raise InputError(f"{path}: holds no utterance; expected a tag-corpus output of at least one; nothing was "
                         "written")
    if assembly is not None and not of_assembly:
        raise InputError(f"--assembly {assembly}: no utterance of that assembly in {path}; expected one of "
                         f"{', '.join(sorted(assemblies)) or '(none)'} (or an id prefix)")
    found = Found([r for _, r in kept], counts["matches"], topics, scored, counts["undated"])
    if require_match and not found.matches:
        query = _describe(topic=topics or None, assembly=assembly, min_score=min_score, speaker=speaker,
                          contains=contains, **{"from": date_from, "to": date_to})
        undated = (f" ({found.undated:,} utterance(s) matching the rest have no readable date)"
                   if found.undated else "")
        raise InputError(f"no utterance of {path} matches {query or 'anything'}{undated}; nothing was written")
    return found
