"""Reading council-minutes corpora.

Two input formats are understood:

* JSONL (optionally gzip-compressed) with one utterance per line:
  ``{id, municipality, date, meeting, speaker, text, source}``; only ``id`` and
  ``text`` are required.
* The seed's plain-text format: an optional header line
  ``<議会名> YYYY-MM-DD <和暦日付> <会議名>`` and then one utterance per line,
  sometimes with a leading number and a ``【role(name)】`` speaker marker.

Every record gets a *group key*: a hash of its text after normalising width,
whitespace and punctuation.  Copies of one utterance share a group key, and
cross-validation keeps a group inside one fold.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Iterable, Iterator

from .errors import CorpusError
from .jsonline import check_unicode, loads_line

CORPUS_SUFFIXES = (".jsonl", ".jsonl.gz", ".txt")


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One utterance."""

    id: str
    text: str
    municipality: str | None = None
    date: str | None = None
    meeting: str | None = None
    speaker: str | None = None
    source: str | None = None

    @property
    def group(self) -> str:
        return group_key(self.text)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- normalisation

_NON_WORD = re.compile(r"[\W_]+")


def normalize_text(text: str) -> str:
    """Text as compared for near-duplicates: NFKC width folding, lower case,
    whitespace, punctuation, symbols and control characters removed."""
    if not unicodedata.is_normalized("NFKC", text):  # quick check first: NFKC itself is slow
        text = unicodedata.normalize("NFKC", text)
    return _NON_WORD.sub("", text.lower())


def group_key(text: str) -> str:
    """Near-duplicate group key: the same for texts equal after :func:`normalize_text`."""
    return hashlib.sha1(normalize_text(text).encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------- JSONL

_OPTIONAL_FIELDS = ("municipality", "date", "meeting", "speaker", "source")


def _open_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                yield lineno, raw
    except (OSError, EOFError) as exc:  # truncated gzip, unreadable file
        raise CorpusError(f"{path}: cannot read file: {exc}") from None


def _record_from_obj(obj: object, where: str) -> Record:
    if not isinstance(obj, dict):
        raise CorpusError(f"{where}: expected a JSON object, found {type(obj).__name__}")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        found = "no 'text' field" if "text" not in obj else f"'text' = {text!r:.40}"
        raise CorpusError(f"{where}: expected a non-empty string field 'text', found {found}")
    rid = obj.get("id")
    if not isinstance(rid, (str, int)) or isinstance(rid, bool) or str(rid) == "":
        raise CorpusError(f"{where}: expected a string field 'id', found {rid!r:.40}")
    kwargs = {}
    for name in _OPTIONAL_FIELDS:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            raise CorpusError(f"{where}: expected field '{name}' to be a string or null, found {value!r:.40}")
        kwargs[name] = value
    for name, value in (("id", str(rid)), ("text", text), *kwargs.items()):
        if value is not None:
            check_unicode(value, name, where, CorpusError)
    return Record(id=str(rid), text=text, **kwargs)


def read_jsonl(path: str | Path, *, lenient: bool = False, errors: list[str] | None = None) -> Iterator[Record]:
    """Yield records of a JSONL or JSONL.gz file.

    A bad line raises :class:`CorpusError` naming file and line; with
    ``lenient=True`` it is skipped and its message appended to ``errors``.
    """
    path = Path(path)
    seen_any = False
    for lineno, raw in _open_lines(path):
        where = f"{path}:{lineno}"
        if not raw.strip():
            continue
        try:
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CorpusError(f"{where}: invalid UTF-8 at byte {exc.start}; the file must be UTF-8 encoded") from None
            record = _record_from_obj(loads_line(line, where, CorpusError), where)
        except CorpusError as exc:
            if not lenient:
                raise
            if errors is not None:
                errors.append(str(exc))
            continue
        seen_any = True
        yield record
    if not seen_any and not (lenient and errors):
        raise CorpusError(f"{path}: file is empty: expected at least one utterance")


# --------------------------------------------------------------------------- seed plain text

_HEADER_RE = re.compile(
    r"^(?P<assembly>\S+?議会)\s+(?P<date>\d{4}-\d{2}-\d{2})\s+"
    r"(?P<wareki>(?:令和|平成|昭和)\s*[0-9０-９元]+年\s*[0-9０-９]+月\s*[0-9０-９]+日)\s*(?P<meeting>.*)$"
)
_LINE_RE = re.compile(r"^\s*(?:(?P<num>\d+)\s+)?(?:【(?P<speaker>[^】]*)】\s*)?(?P<text>.*?)\s*$")


def read_seed_text(path: str | Path, *, lenient: bool = False, errors: list[str] | None = None) -> Iterator[Record]:
    """Yield records of the seed's plain-text format (one utterance per line)."""
    path = Path(path)
    municipality = date = meeting = None
    seen_any = False
    for lineno, raw in _open_lines(path):
        where = f"{path}:{lineno}"
        try:
            line = raw.decode("utf-8").strip().lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            err = CorpusError(f"{where}: invalid UTF-8 at byte {exc.start}; the file must be UTF-8 encoded")
            if not lenient:
                raise err from None
            if errors is not None:
                errors.append(str(err))
            continue
        if not line:
            continue
        if lineno == 1 and (header := _HEADER_RE.match(line)):
            municipality = header["assembly"].removesuffix("議会")
            date = header["date"]
            meeting = header["meeting"].strip() or None
            continue
        m = _LINE_RE.match(line)
        text = m["text"]
        if not text:
            continue
        seen_any = True
        yield Record(
            id=f"seed:{path.stem}:{lineno}",
            text=text,
            municipality=municipality,
            date=date,
            meeting=meeting,
            speaker=(m["speaker"] or None),
            source=f"seed:{path.name}",
        )
    if not seen_any:
        raise CorpusError(f"{path}: file is empty: expected at least one utterance line")


# --------------------------------------------------------------------------- many files

def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, plus corpus files found (sorted) in directories named."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(CORPUS_SUFFIXES))
            if not found:
                raise CorpusError(f"{p}: no corpus files found (expected *.jsonl, *.jsonl.gz or *.txt)")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise CorpusError(f"{p}: no such file or directory")
    return out


def read_file(path: Path, *, lenient: bool = False, errors: list[str] | None = None) -> Iterator[Record]:
    if path.name.endswith((".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")):
        return read_jsonl(path, lenient=lenient, errors=errors)
    if path.name.endswith(".txt"):
        return read_seed_text(path, lenient=lenient, errors=errors)
    raise CorpusError(f"{path}: unknown format: expected a .jsonl, .jsonl.gz or .txt file")


@dataclasses.dataclass
class ReadStats:
    files: int = 0
    records: int = 0
    duplicates: int = 0
    bad_lines: list[str] = dataclasses.field(default_factory=list)


def read_corpus(
    paths: Iterable[str | Path], *, lenient: bool = False, dedupe: bool = True, stats: ReadStats | None = None
) -> Iterator[Record]:
    """Yield records from files and directories, dropping exact duplicate texts.

    Exact duplicates (the same text) are removed, first occurrence kept.  Bad
    lines raise :class:`CorpusError` unless ``lenient``; then they are counted
    in ``stats.bad_lines``.
    """
    stats = stats if stats is not None else ReadStats()
    seen_text: set[bytes] = set()
    seen_ids: set[str] = set()
    for path in expand_paths(paths):
        stats.files += 1
        for rec in read_file(path, lenient=lenient, errors=stats.bad_lines):
            if dedupe:
                digest = hashlib.blake2b(rec.text.encode("utf-8"), digest_size=12).digest()
                if digest in seen_text:
                    stats.duplicates += 1
                    continue
                seen_text.add(digest)
            if rec.id in seen_ids:
                if lenient:
                    stats.bad_lines.append(f"{path}: duplicate record id {rec.id!r} (skipped)")
                    continue
                raise CorpusError(
                    f"{path}: duplicate record id {rec.id!r}: ids must be unique across the files read together"
                )
            seen_ids.add(rec.id)
            stats.records += 1
            yield rec
