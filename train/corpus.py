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
import zlib
from pathlib import Path
from typing import Iterable, Iterator

from .errors import CorpusError
from .jsonline import check_unicode, decode_line, loads_line

CORPUS_SUFFIXES = (".jsonl", ".jsonl.gz", ".txt")

#: what reports, tables and filters call the assembly of an utterance without a municipality
UNKNOWN_ASSEMBLY = "(unknown)"

#: the fields of a :class:`Record` that a tag-corpus output holds, in its column order (tag-corpus writes them,
#: find reads them back)
RECORD_FIELDS = ("id", "municipality", "date", "meeting", "speaker", "text", "source")


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
    gz = path.name.endswith(".gz")
    opener = gzip.open if gz else open
    try:
        fh = opener(path, "rb")
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a folder; expected a JSONL file (.jsonl or .jsonl.gz): give the file, or "
                          "the folder where the command takes one") from None
    except OSError as exc:  # unreadable file
        raise CorpusError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    lineno = 0
    with fh:
        try:
            for lineno, raw in enumerate(fh, 1):
                yield lineno, raw
        except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt gzip data, an I/O error
            if gz and isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)):
                what = "not intact gzip data (damaged or truncated)"
                fix = "expected an intact gzip file: restore it or compress it again"
            else:
                what, fix = "a read error", "check the disk and the file"
            raise CorpusError(f"{path}:{lineno + 1}: cannot read the file from this line on: {what} "
                              f"({exc}); {fix}") from None


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
    An empty file (no line at all, or only blank ones) is an error too, or in
    lenient mode one message in ``errors``.
    """
    return (rec for _, rec in _jsonl_records(Path(path), lenient, errors))


def _skip(err: CorpusError, lenient: bool, errors: list[str] | None) -> None:
    """A bad line: raised, or (lenient) noted in ``errors``."""
    if not lenient:
        raise err
    if errors is not None:
        errors.append(str(err))


def _jsonl_records(path: Path, lenient: bool, errors: list[str] | None) -> Iterator[tuple[int, Record]]:
    """``(line number, record)`` of a JSONL file (see :func:`read_jsonl`)."""
    good = bad = 0
    for lineno, raw in _open_lines(path):
        where = f"{path}:{lineno}"
        if not raw.strip():
            continue
        try:
            try:
                line = decode_line(raw, lineno)
            except UnicodeDecodeError as exc:
                raise CorpusError(f"{where}: invalid UTF-8 at byte {exc.start}; the file must be UTF-8 encoded") from None
            record = _record_from_obj(loads_line(line, where, CorpusError), where)
        except CorpusError as exc:
            bad += 1
            _skip(exc, lenient, errors)
            continue
        good += 1
        yield lineno, record
    if not good and not bad:  # a file whose lines were all bad has had them reported
        _skip(CorpusError(f"{path}: file is empty: expected at least one utterance"), lenient, errors)


# --------------------------------------------------------------------------- seed plain text

_HEADER_RE = re.compile(
    r"^(?P<assembly>\S+?議会)\s+(?P<date>\d{4}-\d{2}-\d{2})\s+"
    r"(?P<wareki>(?:令和|平成|昭和)\s*[0-9０-９元]+年\s*[0-9０-９]+月\s*[0-9０-９]+日)\s*(?P<meeting>.*)$"
)
_LINE_RE = re.compile(r"^\s*(?:(?P<num>\d+)\s+)?(?:【(?P<speaker>[^】]*)】\s*)?(?P<text>.*?)\s*$")


def read_seed_text(path: str | Path, *, lenient: bool = False, errors: list[str] | None = None) -> Iterator[Record]:
    """Yield records of the seed's plain-text format (one utterance per line).

    Ids are ``seed:<file name without .txt>:<line>``; bad lines and empty files as in :func:`read_jsonl`."""
    return (rec for _, rec in _seed_records(Path(path), lenient, errors))


def _seed_records(path: Path, lenient: bool, errors: list[str] | None) -> Iterator[tuple[int, Record]]:
    municipality = date = meeting = None
    good = bad = 0
    for lineno, raw in _open_lines(path):
        where = f"{path}:{lineno}"
        try:
            line = decode_line(raw, lineno).strip().lstrip("\ufeff")  # (a mark inside: concatenated files)
        except UnicodeDecodeError as exc:
            bad += 1
            _skip(CorpusError(f"{where}: invalid UTF-8 at byte {exc.start}; the file must be UTF-8 encoded"), lenient,
                  errors)
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
        good += 1
        yield lineno, Record(
            id=f"seed:{path.stem}:{lineno}",
            text=text,
            municipality=municipality,
            date=date,
            meeting=meeting,
            speaker=(m["speaker"] or None),
            source=f"seed:{path.name}",
        )
    if not good and not bad:
        _skip(CorpusError(f"{path}: file is empty: expected at least one utterance line"), lenient, errors)


# --------------------------------------------------------------------------- many files

def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, plus corpus files found (sorted) in directories named.

    Checked here, before anything is read: every path exists, a folder holds corpus files, a file named is of
    a known format, and no two seed text files share a name (their record ids would be the same)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(CORPUS_SUFFIXES))
            if not found:
                raise CorpusError(f"{p}: no corpus files found (expected *.jsonl, *.jsonl.gz or *.txt)")
            out.extend(found)
        elif p.is_file():
            _reader(p)
            out.append(p)
        else:
            raise CorpusError(f"{p}: no such file or directory")
    _check_seed_names(out)
    return out


def _check_seed_names(files: list[Path]) -> None:
    """Seed text files are told apart by name alone (ids ``seed:<name>:<line>``, used by existing labels):
    refuse two different files with one name."""
    by_name: dict[str, Path] = {}
    for f in files:
        if not f.name.endswith(".txt"):
            continue
        first = by_name.setdefault(f.stem, f)
        if first is not f and first.resolve() != f.resolve():
            raise CorpusError(
                f"{first} and {f}: two seed text files named {f.name!r}; their utterances would get the same ids "
                f"(seed:{f.stem}:LINE). Expected seed files with distinct names: rename one of them")


def _reader(path: Path):
    if path.name.endswith((".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")):
        return _jsonl_records
    if path.name.endswith(".txt"):
        return _seed_records
    raise CorpusError(f"{path}: unknown format: expected a .jsonl, .jsonl.gz or .txt file")


def read_file(path: Path, *, lenient: bool = False, errors: list[str] | None = None) -> Iterator[Record]:
    return (rec for _, rec in _reader(Path(path))(Path(path), lenient, errors))


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

    Exact duplicates (the same text) are removed, first occurrence kept, unless
    ``dedupe=False``.  Bad lines (and empty files, and repeated record ids)
    raise :class:`CorpusError` unless ``lenient``; then they are counted in
    ``stats.bad_lines``.
    """
    stats = stats if stats is not None else ReadStats()
    seen_text: set[bytes] = set()
    first_seen: dict[str, int] = {}  # record id -> where it was read: file index << 32 | line
    files = expand_paths(paths)
    for index, path in enumerate(files):
        stats.files += 1
        for lineno, rec in _reader(path)(path, lenient, stats.bad_lines):
            if dedupe:
                digest = hashlib.blake2b(rec.text.encode("utf-8"), digest_size=12).digest()
                if digest in seen_text:
                    stats.duplicates += 1
                    continue
                seen_text.add(digest)
            first = first_seen.get(rec.id)
            if first is not None:
                said = (f"{path}:{lineno}: duplicate record id {rec.id!r}, first read at "
                        f"{files[first >> 32]}:{first & 0xFFFFFFFF}")
                if lenient:
                    stats.bad_lines.append(said + " (skipped)")
                    continue
                raise CorpusError(said + ": ids must be unique across the files read together; give one of them "
                                  "another id")
            first_seen[rec.id] = index << 32 | lineno
            stats.records += 1
            yield rec
