"""Topic timelines: the share of utterances per topic over time, per assembly."""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from . import csvout
from .atomic import atomic_write_bytes, atomic_write_text, check_writable
from .corpus import UNKNOWN_ASSEMBLY
from .errors import InputError
from .jsonline import decode_line, finite_number, loads_line

PERIODS = ("month", "quarter", "year")
_BASE = ("municipality", "date", "topics")  # the columns every reader of a tag-corpus output needs


_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?")


def date_parts(date: str | datetime.date | None) -> tuple[int, int, int | None] | None:
    """(year, month, day) of an ISO date (``YYYY-MM[-DD]...``, or a date or timestamp: a Parquet
    ``date``/``timestamp`` column); day None when the date has none (or not a day 01-31); None for a missing or
    unreadable date (counted as undated).  Full-width digits read as ASCII ones: '２０１９-０５' is 2019-05."""
    if isinstance(date, datetime.date):  # (a datetime is a date too)
        date = date.isoformat()
    m = _DATE.match(date) if isinstance(date, str) else None
    if m is None or not 1 <= int(m[2]) <= 12:
        return None
    day = int(m[3]) if m[3] is not None and 1 <= int(m[3]) <= 31 else None
    return int(m[1]), int(m[2]), day


def period_of(date: str | datetime.date | None, by: str) -> str | None:
    """The period of an ISO date (see :func:`date_parts`); None for a missing or unreadable date (counted as
    undated)."""
    parts = date_parts(date)
    if parts is None:
        return None
    year, month = f"{parts[0]:04d}", parts[1]
    if by == "year":
        return year
    if by == "quarter":
        return f"{year}-Q{(month - 1) // 3 + 1}"
    return f"{year}-{month:02d}"


def axis_periods(periods, by: str) -> list[str]:
    """Every period from the first to the last of ``periods``, those with no utterance too: a time axis to
    scale (2020-06 and 2022-01 are 19 months apart on it, not neighbours)."""
    def number(period: str) -> int:
        if by == "year":
            return int(period)
        year, part = period.split("-")
        return int(year) * (4 if by == "quarter" else 12) + int(part.removeprefix("Q")) - 1

    def name(n: int) -> str:
        if by == "year":
            return str(n)
        return f"{n // 4}-Q{n % 4 + 1}" if by == "quarter" else f"{n // 12}-{n % 12 + 1:02d}"

    found = [number(p) for p in periods]
    return [name(n) for n in range(min(found), max(found) + 1)] if found else []


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
    missing = set(_BASE) - set(pf.schema_arrow.names)
    if missing:
        raise InputError(f"{path}: missing column(s) {sorted(missing)}; expected a tag-corpus output")
    types = {name: pf.schema_arrow.field(name).type for name in ("municipality", "topics")}
    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_null)
    if not any(is_(types["municipality"]) for is_ in text) or not (
            (pa.types.is_list(types["topics"]) or pa.types.is_large_list(types["topics"]))
            and any(is_(types["topics"].value_type) for is_ in text)):
        raise InputError(f"{path}: columns municipality: {types['municipality']}, topics: {types['topics']}; "
                         "expected a string and a list of strings (a tag-corpus output)")
    present = [c for c in dict.fromkeys(extra) if c in pf.schema_arrow.names and c not in _BASE]
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
               for batch in pf.iter_batches(columns=[*_BASE, *present], batch_size=20000, row_groups=[group]))
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


@dataclasses.dataclass
class TimelineStats:
    """What :func:`compute_timeline` read but could not place: utterances without a readable date (of the
    assembly asked for), and the assemblies seen (to name them when the one asked for is not there)."""

    undated: int = 0
    assemblies: set[str] = dataclasses.field(default_factory=set)


def compute_timeline(rows, by: str, topic_ids: list[str], assembly: str | None = None,
                     stats: TimelineStats | None = None) -> list[dict]:
    """One row per (assembly, period): utterance count and the share tagged with each topic.  Utterances
    without a readable date are left out and counted in ``stats.undated``."""
    if by not in PERIODS:
        raise InputError(f"--by: expected one of {', '.join(PERIODS)}, found {by!r}")
    stats = stats if stats is not None else TimelineStats()
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(topic_ids) + 1))
    index = {t: i for i, t in enumerate(topic_ids)}
    for municipality, date, topics in rows:
        municipality = municipality or UNKNOWN_ASSEMBLY  # as shown in the CSV, so --assembly '(unknown)' selects it
        stats.assemblies.add(municipality)
        if assembly and municipality != assembly:
            continue
        period = period_of(date, by)
        if period is None:
            stats.undated += 1
            continue
        c = counts[(municipality, period)]
        c[-1] += 1
        for t in set(topics or ()):  # a topic listed twice still tags the utterance once
            if t not in index:
                raise InputError(f"topic {t!r} (an utterance of {municipality}, {date}) is not in the "
                                 f"taxonomy ({', '.join(topic_ids)}): the file was tagged by a model of another "
                                 "taxonomy. Expected the taxonomy the model was trained with: tag the corpus again, or "
                                 "run timeline where labels/topics.yaml is that taxonomy")
            c[index[t]] += 1
    out = []
    for (municipality, period), c in sorted(counts.items()):
        n = c[-1]
        out.append({"assembly": municipality, "period": period, "utterances": n,
                    **{t: round(c[i] / n, 6) for t, i in index.items()}})
    return out


def to_csv(rows: list[dict], topic_ids: list[str], *, bom: bool = False) -> str:
    """The rows of :func:`compute_timeline` as CSV, as find writes its CSV (:mod:`train.csvout`): an assembly name
    a spreadsheet would read as a formula gets a ``'`` in front, the counts and shares are numbers as they are;
    ``bom``: after a UTF-8 byte-order mark (the file does, for Excel to read 品川区 as UTF-8)."""
    fields = ["assembly", "period", "utterances", *topic_ids]
    buf = io.StringIO()
    w = csvout.writer(buf, bom=bom)
    w.writerow(fields)
    w.writerows([r[k] for k in fields] for r in rows)
    return buf.getvalue()


def plot(rows: list[dict], topic_ids: list[str], by: str) -> bytes:
    """Small multiples: one panel per topic, one line per assembly (share of utterances)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assemblies = sorted({r["assembly"] for r in rows})
    periods = axis_periods({r["period"] for r in rows}, by)
    pos = {p: i for i, p in enumerate(periods)}
    ncols = 4
    nrows = -(-len(topic_ids) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(16, 3 * nrows), sharex=True)
    colors = plt.get_cmap("tab10")
    for k, (ax, t) in enumerate(zip(axes.ravel(), topic_ids)):
        for a_i, a in enumerate(assemblies):
            pts = sorted((pos[r["period"]], r[t] * 100) for r in rows if r["assembly"] == a)
            if pts:
                ax.plot([p for p, _ in pts], [v for _, v in pts], marker="." if len(pts) < 30 else None,
                        lw=1.2, color=colors(a_i % 10), label=a)
        ax.set_title(t, fontsize=10)
        ax.set_ylabel("% of utterances", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(topic_ids):]:
        ax.axis("off")
    step = max(1, len(periods) // 8)
    for ax in axes.ravel():
        ax.set_xticks(range(0, len(periods), step), [periods[i] for i in range(0, len(periods), step)],
                      rotation=45, fontsize=7)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    font = _japanese_font()
    fig.suptitle(f"Share of utterances per topic, by {by} and assembly", y=0.995, fontsize=13)
    fig.legend(handles, [_legend_name(n, font) for n in labels], loc="upper center", bbox_to_anchor=(0.5, 0.975),
               ncol=min(6, len(assemblies)), prop={"family": font, "size": 9}, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.18 / nrows))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


ROMAJI = {"品川区": "Shinagawa", "東京都": "Tokyo Metro", "小樽市": "Otaru", "茨城県": "Ibaraki Pref.",
          "福岡市": "Fukuoka", "高崎市": "Takasaki"}


def _legend_name(name: str, font: str) -> str:
    if font != "sans-serif":
        return name
    return f"{ROMAJI[name]}" if name in ROMAJI else name


def _japanese_font() -> str:
    """A font that can draw assembly names, if one is installed."""
    from matplotlib import font_manager

    for name in ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic", "TakaoGothic", "Hiragino Sans"):
        if any(f.name == name for f in font_manager.fontManager.ttflist):
            return name
    return "sans-serif"


def write_timeline(path: Path, out_dir: Path, *, by: str, topic_ids: list[str], assembly: str | None = None) -> dict:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: is a file; expected a folder for the CSV and PNG")
    csv_path, png_path = out_dir / f"timeline-{by}.csv", out_dir / f"timeline-{by}.png"
    for target in (csv_path, png_path):  # the files written, checked before any work
        check_writable(target, "--out", inputs=[path])
    scored = scored_topics(path)
    if scored is not None and set(scored) != set(topic_ids):
        missing, extra = sorted(set(topic_ids) - set(scored)), sorted(set(scored) - set(topic_ids))
        raise InputError(f"{path}: tagged with topics {', '.join(scored)}, but the taxonomy has "
                         f"{', '.join(topic_ids)} (not tagged: {', '.join(missing) or '-'}; not in the taxonomy: "
                         f"{', '.join(extra) or '-'}); their shares would be wrong. Expected a file tagged by a "
                         "model of this taxonomy: tag the corpus again, or run timeline where labels/topics.yaml "
                         "is the model's taxonomy")
    stats = TimelineStats()
    rows = compute_timeline(read_tagged(path), by, topic_ids, assembly, stats)
    if assembly and assembly not in stats.assemblies:
        raise InputError(f"--assembly {assembly}: no utterance of that assembly in {path}; expected one of "
                         f"{', '.join(sorted(stats.assemblies)) or '(none)'}")
    if not rows:
        raise InputError(f"{path}: no dated utterances{f' for {assembly}' if assembly else ''} to plot "
                         f"({stats.undated} without a readable YYYY-MM date)")
    csv_text, png = to_csv(rows, topic_ids, bom=True), plot(rows, topic_ids, by)  # both made before either is written
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(csv_path, csv_text)
    atomic_write_bytes(png_path, png)
    return {"csv": csv_path, "png": png_path, "rows": len(rows), "undated": stats.undated}
