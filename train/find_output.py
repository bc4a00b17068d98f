"""How ``gikai-topics find`` shows what :func:`train.find.find_utterances` found: JSONL or CSV (a file or a
stream), or a table for the terminal (its cells and column widths; the CLI prints it with rich).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import IO, Iterator, Optional

from . import csvout
from .corpus import UNKNOWN_ASSEMBLY
from .errors import InputError
from .find import Found, fold
from .jsonline import lone_surrogate
from .paths import to_stdout

FORMATS = ("table", "jsonl", "csv")
TABLE_LIMIT = 20


def choose_format(fmt: Optional[str], out: Optional[Path | str], *, terminal: bool) -> str:
    """The output format: ``fmt`` if given, else the one ``out``'s name says (.jsonl, .csv), else a table on a
    terminal and JSONL down a pipe.  A table goes to the terminal only; a name saying another format is refused."""
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    if to_stdout(out):
        return fmt or ("table" if terminal else "jsonl")
    named = {".jsonl": "jsonl", ".csv": "csv"}.get(Path(out).suffix.lower())
    if fmt == "table":
        raise InputError(f"--out {out}: --format table is printed to the terminal; expected --format jsonl or csv "
                         "with --out")
    if fmt and named and fmt != named:
        raise InputError(f"--out {out}: a .{named} name for --format {fmt}; expected a name ending in .{fmt}")
    if not (fmt or named):
        raise InputError(f"--out {out}: cannot tell the format from the name; expected a .jsonl or .csv name, or "
                         "--format jsonl|csv")
    return fmt or named


def _checked(record: dict) -> dict:
    """``record``, refused when a text of it cannot be written as UTF-8 (a lone surrogate a hand edit left)."""
    for k, v in record.items():
        if isinstance(v, str) and lone_surrogate(v) is not None:
            raise InputError(f"utterance {record.get('id')}: field '{k}' holds a lone surrogate (half of an escaped "
                             "surrogate pair), which cannot be written as UTF-8; expected valid Unicode text: fix "
                             "the tagged file; nothing was written")
    return record


def jsonl_lines(found: Found) -> Iterator[str]:
    for r in found.records:
        yield json.dumps(_checked(r), ensure_ascii=False, default=str) + "\n"


def write_csv(found: Found, fh: IO[str], *, bom: bool) -> None:
    """The records as CSV, ``topics`` space-separated (as the labels' answers files take them), each text cell
    that a spreadsheet would read as a formula (``=1+1``, ``-…``, ``@…``) with a ``'`` in front, numbers as they
    are (:mod:`train.csvout`).

    ``bom``: open with a UTF-8 byte-order mark, for Excel to read the Japanese text as UTF-8
    (:mod:`train.csvout`); files get it, standard output does not.  timeline's CSV is written the same way."""
    w = csvout.writer(fh, bom=bom)
    w.writerow(found.fields())
    for r in found.records:
        _checked(r)
        w.writerow([" ".join(r["topics"]) if k == "topics" else r[k] for k in found.fields()])


def write_found(found: Found, fmt: str, fh: IO[str], *, bom: bool = False) -> None:
    """``found`` as ``jsonl`` or ``csv`` into ``fh`` (``bom``: see :func:`write_csv`)."""
    if fmt == "csv":
        write_csv(found, fh, bom=bom)
    elif fmt == "jsonl":
        fh.writelines(jsonl_lines(found))
    else:
        raise InputError(f"--format {fmt}: expected jsonl or csv for a file")


def snippet(text, needle: Optional[str] = None, width: int = 80) -> str:
    """``width`` characters of ``text`` on one line, around the first place ``needle`` is found (as
    ``contains`` finds it), with … where it was cut."""
    flat = " ".join(str(text or "").split())
    start = 0
    if needle:
        units: list[list[int]] = []  # [start, end) of each character with the marks that follow it
        for i, ch in enumerate(flat):
            if units and unicodedata.combining(fold(ch)[:1] or "a"):
                units[-1][1] = i + 1  # ｶﾞ, か+゛: NFKC makes one ガ, が of them, as ``contains`` compared them
            else:
                units.append([i, i + 1])
        folded, where = [], []
        for first, end in units:  # unit by unit, to map a place back into ``flat``
            f = fold(flat[first:end])
            folded.append(f)
            where.extend([first] * len(f))
        hit = "".join(folded).find(fold(needle))
        if hit >= 0:
            start = max(0, min(where[hit] - width // 4, len(flat) - width))
    piece = ("…" if start else "") + flat[start:start + width] + ("…" if start + width < len(flat) else "")
    return piece.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate shown, not a crash


def table_cells(found: Found, contains: Optional[str], width: int) -> tuple[list[str], list[int], list[list[str]]]:
    """The table of ``found`` for a terminal ``width`` cells wide: its column names, their widths (borders and
    padding take 3 cells a column, and 1) and its rows of cells."""
    from rich.cells import cell_len

    rows = [[str(r["date"] or "-")[:10], r["municipality"] or UNKNOWN_ASSEMBLY, snippet(r["speaker"], width=20),
             *([score_cell(r, t) for t in found.topics] if found.topics else [topics_cell(r, found.scored)]),
             snippet(r["text"], contains)] for r in found.records]
    names = ["date", "assembly", "speaker", *(found.topics or ["topics"]), "text"]
    wanted = [max([cell_len(name), *(cell_len(line) for row in rows for line in row[i].splitlines())])
              for i, name in enumerate(names)]
    caps = [10, 12, 16, *([max(6, len(t)) for t in found.topics] or [24]), 10**6]
    floors = [10, 8, 8, *([min(max(6, len(t)), 8) for t in found.topics] or [12]), 2]  # (headers unfolded)
    # widths planned here, not by rich: it narrows the text first and keeps a column's minimum width even when
    # the table then outgrows the terminal (whose wrapping breaks every line), and a long assembly name took the
    # width of every other column
    widths = fit_widths([min(w, cap) for w, cap in zip(wanted, caps)], width - 3 * len(names) - 1, floors)
    return names, widths, rows


def fit_widths(wanted: list[int], room: int, floors: list[int], text_min: int = 24) -> list[int]:
    """The table's column widths in ``room`` cells: each as ``wanted`` when they fit; else the last (the text)
    narrows down to ``text_min``, then the widest of the others, one cell at a time down to its floor, then the
    text again (down to 2).  The text keeps most of a narrow terminal; the table never outgrows it unless the
    floors do."""
    widths = list(wanted)
    excess = sum(widths) - room
    take = max(0, min(excess, widths[-1] - text_min))
    widths[-1] -= take
    excess -= take
    while excess > 0:
        over = [i for i in range(len(widths) - 1) if widths[i] > floors[i]]
        if not over:
            break
        widths[max(over, key=lambda i: widths[i])] -= 1
        excess -= 1
    widths[-1] -= max(0, min(excess, widths[-1] - 2))
    return widths


def topics_cell(record: dict, scored: list[str]) -> str:
    """The table's column without ``--topic``: the tagged topics with their scores, strongest first, or, for an
    utterance with none (``--min-score`` selects those too), its strongest topic in parentheses.  One topic a line:
    on one line the cell wrapped between a topic and its score (``environment 0.41 privacy`` / ``0.31``)."""
    tagged = sorted((t for t in dict.fromkeys(record["topics"]) if t in scored),
                    key=lambda t: -record[f"score_{t}"])
    if tagged:
        return "\n".join(f"{t} {record[f'score_{t}']:.2f}" for t in tagged)
    best = max(scored, key=lambda t: record[f"score_{t}"])
    return f"({best} {record[f'score_{best}']:.2f})"


def score_cell(record: dict, topic: str) -> str:
    """A topic's score for the table, ``*`` marking a tagged one (over the model's threshold): 0.500 may be
    0.49996, just under it."""
    s = record[f"score_{topic}"]
    return f"{s:.3f}" + ("*" if topic in record["topics"] else " ")
