"""Reading a ``tag-corpus`` output (.parquet or .jsonl) back, row by row and checked: what ``timeline`` and
``find`` read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from .errors import InputError
from .jsonline import decode_line, finite_number, loads_line

#: the columns every reader of a tag-corpus output needs
BASE_COLUMNS = ("municipality", "date", "topics")


def read_tagged(path: Path, extra: Sequence[str] = ()):
    """(municipality, date, topics) rows of a tag-corpus output (.parquet or .jsonl); with ``extra`` column
    names, (municipality, date, topics, *their values): None where the file has no such column (a row no such
    key); a ``score_<topic>`` column the file has is checked to hold a number in every row."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; expected the .parquet or .jsonl file that tag-corpus wrote")
    if not path.is_file():
        raise InputError(f"{path}: no such file; run `gikai-topics tag-corpus` first")
    if path.name.lower().endswith(".jsonl"):
        yield from _read_tagged_jsonl(path, tuple(extra))
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise InputError(f"{path}: not a readable Parquet file ({_one_line(exc)}); expected the .parquet or .jsonl "
                         "file that tag-corpus wrote") from None
    missing = set(BASE_COLUMNS) - set(pf.schema_arrow.names)
    if missing:
        raise InputError(f"{path}: missing column(s) {sorted(missing)}; expected a tag-corpus output")
    types = {name: pf.schema_arrow.field(name).type for name in ("municipality", "topics")}
    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_null)
    if not any(is_(types["municipality"]) for is_ in text) or not (
            (pa.types.is_list(types["topics"]) or pa.types.is_large_list(types["topics"]))
            and any(is_(types["topics"].value_type) for is_ in text)):
        raise InputError(f"{path}: columns municipality: {types['municipality']}, topics: {types['topics']}; "
                         "expected a string and a list of strings (a tag-corpus output)")
    present = [c for c in dict.fromkeys(extra) if c in pf.schema_arrow.names and c not in BASE_COLUMNS]
    scores = [c for c in present if c.startswith("score_")]
    for name in scores:
        if not (pa.types.is_floating(pf.schema_arrow.field(name).type)
                or pa.types.is_integer(pf.schema_arrow.field(name).type)):
            raise InputError(f"{path}: column {name}: {pf.schema_arrow.field(name).type}; expected numbers (a "
                             "tag-corpus output)")
    done = 0
    # one row group at a time (tag-corpus writes one per chunk of --chunk-size): over the whole file, iter_batches
    # reads row groups ahead, decoding most of a 100k-utterance file (~400 MB with the texts find reads) before
    # its first row comes out
    batches = (batch for group in range(pf.num_row_groups)
               for batch in pf.iter_batches(columns=[*BASE_COLUMNS, *present], batch_size=20000, row_groups=[group]))
    while True:
        try:
            batch = next(batches, None)
        except (OSError, pa.ArrowException) as exc:  # a damaged page: 'Corrupt snappy compressed data.', of what?
            raise InputError(f"{path}: not a readable Parquet file (from row {done + 1:,}: {_one_line(exc)}); "
                             "expected a tag-corpus output: tag the corpus again") from None
        if batch is None:
            break
        for name, what in (("topics", "a list of topic ids (empty for an utterance with no topic)"),
                           *((c, "a score") for c in scores)):
            if batch.column(name).null_count:  # untagged, not "no topic" (or a score of 0): it would mislead
                row = done + batch.column(name).is_null().index(True).as_py() + 1
                raise InputError(f"{path}: row {row}: '{name}' is null; expected {what}, as tag-corpus writes")
        done += batch.num_rows
        cols = batch.to_pydict()
        none = [None] * batch.num_rows
        yield from zip(cols["municipality"], cols["date"], cols["topics"], *(cols.get(c, none) for c in extra))


def _one_line(exc: Exception) -> str:
    """pyarrow's message on one line ('Couldn't deserialize thrift: ...' spans several)."""
    return " ".join(str(exc).split())


def scored_topics(path: Path) -> list[str] | None:
    """The topics a tag-corpus output was tagged with (its ``score_<topic>`` columns or keys), or None when it
    has none (a hand-made file) or cannot be read (:func:`read_tagged` then says why)."""
    path = Path(path)
    try:
        if path.name.lower().endswith(".jsonl"):
            with open(path, "rb") as fh:
                first = next((raw for raw in fh if raw.strip()), b"")
            row = loads_line(decode_line(first, 1), str(path), InputError)
            names = list(row) if isinstance(row, dict) else []
        else:
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
    except Exception:
        return None
    return [n.removeprefix("score_") for n in names if n.startswith("score_")] or None


def _read_tagged_jsonl(path: Path, extra: tuple[str, ...] = ()):
    scores = [c for c in extra if c.startswith("score_")]
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            where = f"{path}:{lineno}"
            if not raw.strip():  # blank lines are skipped, as by the other JSONL readers
                continue
            why = ""  # a line cut short or not UTF-8 says so: a damaged file, not another kind of file
            try:
                r = loads_line(decode_line(raw, lineno), where, InputError)
            except InputError as exc:
                r, why = None, ": " + str(exc).removeprefix(f"{where}: ")
            except UnicodeDecodeError:
                r, why = None, ": not UTF-8 text"
                try:
                    loads_line(raw.decode("utf-8", "replace"), where, InputError)
                except InputError as exc:  # a line cut short inside a character: its JSON says more
                    why = ": " + str(exc).removeprefix(f"{where}: ")
            muni, topics = (r.get("municipality"), r.get("topics")) if isinstance(r, dict) else (None, None)
            if not (isinstance(muni, str) or muni is None) or not isinstance(topics, list) or not all(
                    isinstance(t, str) for t in topics):
                raise InputError(f"{where}: not a tag-corpus output line{why} (expected a JSON object with "
                                 "'topics', a list of topic ids, and 'municipality', a string or null)")
            bad = next((c for c in scores if not finite_number(r.get(c))), None)
            if bad is not None:
                found = json.dumps(r[bad], ensure_ascii=False)[:40] if bad in r else "missing"
                raise InputError(f"{where}: '{bad}' is {found}; expected a number, as tag-corpus writes a score for "
                                 "every topic on every line")
            yield (muni, r.get("date"), topics, *(r.get(c) for c in extra))
