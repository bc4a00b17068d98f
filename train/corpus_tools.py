"""Corpus statistics and sampling (used to pick utterances to label)."""

from __future__ import annotations

import dataclasses
import json
import random
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Iterator

from .corpus import UNKNOWN_ASSEMBLY, ReadStats, Record, expand_paths, read_corpus, read_file
from .errors import InputError
from .timeline import period_of

PERCENTILES = (10, 25, 50, 75, 90, 99)


@dataclasses.dataclass
class AssemblyStats:
    records: int = 0
    first_date: str | None = None
    last_date: str | None = None

    def add(self, date: str | None) -> None:
        self.records += 1
        # only ISO dates (YYYY-MM...) compare as text: '2019/2/26' or '令和元年5月1日' would sort after every one
        if period_of(date, "month") is not None:
            date = unicodedata.normalize("NFKC", date)  # '２０１９-０５-０１' compares as 2019-05-01
            if self.first_date is None or date < self.first_date:
                self.first_date = date
            if self.last_date is None or date > self.last_date:
                self.last_date = date


@dataclasses.dataclass
class CorpusStats:
    files: int
    records: int
    duplicates_removed: int
    bad_lines: int
    groups: int
    groups_with_copies: int
    records_in_copy_groups: int
    assemblies: dict[str, AssemblyStats]
    length_percentiles: dict[int, int]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _percentile(sorted_values: list[int], q: float) -> int:
    if not sorted_values:
        return 0
    idx = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[idx]


def corpus_stats(paths: Iterable[str | Path], *, lenient: bool = False) -> CorpusStats:
    read = ReadStats()
    groups: Counter[str] = Counter()
    assemblies: dict[str, AssemblyStats] = defaultdict(AssemblyStats)
    lengths: list[int] = []
    for rec in read_corpus(paths, lenient=lenient, stats=read):
        groups[rec.group] += 1
        assemblies[rec.municipality or UNKNOWN_ASSEMBLY].add(rec.date)
        lengths.append(len(rec.text))
    lengths.sort()
    copies = [n for n in groups.values() if n > 1]
    return CorpusStats(
        files=read.files,
        records=read.records,
        duplicates_removed=read.duplicates,
        bad_lines=len(read.bad_lines),
        groups=len(groups),
        groups_with_copies=len(copies),
        records_in_copy_groups=sum(copies),
        assemblies=dict(sorted(assemblies.items(), key=lambda kv: -kv[1].records)),
        length_percentiles={q: _percentile(lengths, q) for q in PERCENTILES},
    )


@dataclasses.dataclass(frozen=True)
class SampleFilter:
    assembly: str | None = None
    grep: str | None = None
    min_len: int = 0
    max_len: int | None = None

    def __post_init__(self) -> None:
        if self.min_len < 0:
            raise InputError(f"--min-len must be >= 0, found {self.min_len}")
        if self.max_len is not None and self.max_len < self.min_len:
            raise InputError(f"--max-len must be >= --min-len ({self.min_len}), found {self.max_len}")
        if self.grep is not None:
            try:
                re.compile(self.grep)
            except re.error as exc:
                raise InputError(f"--grep: invalid regular expression {self.grep!r}: {exc}") from None

    def in_assembly(self, rec: Record) -> bool:
        """Of the assembly asked for (its municipality, or the prefix of its id), or no assembly asked for."""
        return not self.assembly or rec.municipality == self.assembly or rec.id.split(":", 1)[0] == self.assembly

    def describe(self) -> str:
        """The filters given, as options (``--grep 'x' --min-len 60``); empty when none."""
        given = [f"--assembly {self.assembly}" if self.assembly else "", f"--grep {self.grep!r}" if self.grep else "",
                 f"--min-len {self.min_len}" if self.min_len else "",
                 f"--max-len {self.max_len}" if self.max_len is not None else ""]
        return " ".join(g for g in given if g)

    def accepts(self, rec: Record) -> bool:
        if not self.in_assembly(rec):
            return False
        n = len(rec.text)
        if n < self.min_len or (self.max_len is not None and n > self.max_len):
            return False
        if self.grep is not None and not re.search(self.grep, rec.text):
            return False
        return True


def excluded_keys(files: Iterable[str | Path]) -> tuple[set[str], set[str]]:
    """Ids and group keys of the records in JSONL files (e.g. labels already made)."""
    ids: set[str] = set()
    groups: set[str] = set()
    for path in files:
        path = Path(path)
        if not path.exists():
            raise InputError(f"--exclude {path}: no such file or folder")
        # a folder is searched like a corpus folder (subfolders and .jsonl.gz too); one with nothing readable is
        # an error, not a silent "exclude nothing"
        for p in expand_paths([path]):
            for rec in read_file(p):
                ids.add(rec.id)
                groups.add(rec.group)
    return ids, groups


def sample(
    paths: Iterable[str | Path],
    n: int,
    *,
    where: SampleFilter = SampleFilter(),
    seed: int = 0,
    exclude: Iterable[str | Path] = (),
    lenient: bool = False,
) -> list[Record]:
    """A uniform random sample of ``n`` matching records, one per near-duplicate group.

    Reservoir sampling keeps memory at O(n) whatever the corpus size; the
    result is deterministic for a given seed and input order.
    """
    if n <= 0:
        raise InputError(f"--n must be a positive number, found {n}")
    ex_ids, ex_groups = excluded_keys(exclude)
    rng = random.Random(seed)
    reservoir: list[Record] = []
    seen_groups: set[str] = set()
    assemblies: set[str] = set()  # the corpus's, to name them when --assembly matches none (a typo)
    of_assembly = False
    k = 0
    for rec in read_corpus(paths, lenient=lenient):
        if not of_assembly and where.assembly:
            of_assembly = where.in_assembly(rec)
            assemblies.add(rec.municipality or UNKNOWN_ASSEMBLY)
        if not where.accepts(rec):
            continue
        g = rec.group
        if rec.id in ex_ids or g in ex_groups or g in seen_groups:
            continue
        seen_groups.add(g)
        k += 1
        if len(reservoir) < n:
            reservoir.append(rec)
        else:
            j = rng.randrange(k)
            if j < n:
                reservoir[j] = rec
    if where.assembly and not of_assembly:
        raise InputError(f"--assembly {where.assembly}: no utterance of that assembly in the corpus (as "
                         f"municipality or id prefix); expected one of {', '.join(sorted(assemblies)) or '(none)'}")
    reservoir.sort(key=lambda r: r.id)
    return reservoir


def records_to_jsonl(records: Iterable[Record]) -> Iterator[str]:
    for rec in records:
        yield json.dumps(rec.to_dict(), ensure_ascii=False)
