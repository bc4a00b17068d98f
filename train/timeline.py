"""Topic timelines: the share of utterances per topic over time, per assembly."""

from __future__ import annotations

import dataclasses
import datetime
import io
import re
from collections import defaultdict
from pathlib import Path

from . import csvout
from .atomic import atomic_write_bytes, atomic_write_text, check_writable
from .corpus import UNKNOWN_ASSEMBLY
from .errors import InputError
from .tagged import read_tagged, scored_topics

PERIODS = ("month", "quarter", "year")


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
