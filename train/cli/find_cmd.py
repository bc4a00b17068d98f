"""``gikai-topics find``: the utterances of a tagged corpus by topic, assembly, date, speaker and text."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import console, err_console, output_to, to_stdout

FIND_HELP = "\n\n".join([  # one line a paragraph: the help is wrapped to the terminal's width
    "Find utterances in a tag-corpus output, strongest (or earliest) first.",
    "--topic (repeatable, or comma-separated) selects the utterances tagged with ANY of the topics given (tagged: "
    "over the model's threshold, i.e. listed in `topics`); without --topic every utterance is a candidate. "
    "--min-score P selects by score instead of by tag: a score >= P on any of the topics given (on any topic "
    "without --topic), tagged or not; below a threshold it shows what the model almost tagged. Every other "
    "filter applies on top (AND).",
    "--from/--to take YYYY-MM-DD, YYYY-MM or YYYY and are inclusive: a month or a year covers all its days "
    "(--from 2023 --to 2023 is the year 2023, --to 2023-03 includes March 31). With either, undated utterances "
    "are left out (their number is reported). --speaker/--contains are substrings, "
    "compared after NFKC and case folding (DX finds ＤＸ). --assembly is the municipality, the id prefix, or "
    "'(unknown)'.",
    "--sort score (the default with --topic or --min-score): the highest score among the topics given (all "
    "topics without --topic), descending; ties by date, then id. --sort date (the default otherwise): "
    "ascending, undated last; ties by id.",
    "Output: a table on a terminal (date, assembly, speaker, the scores of the topics given, * marking a tagged "
    "one, or without --topic the tagged topics and their scores, ~80 characters of text, and \"showing 20 of N "
    "matches\"), else JSONL; --out FILE.jsonl or FILE.csv writes that "
    "format atomically (whole or nothing). CSV files start with a UTF-8 byte-order mark, so that Excel shows the "
    "Japanese text; in any CSV a text cell starting with = + - @ (a formula to a spreadsheet) gets a ' in front. "
    "--limit: 20 for the table, all for JSONL/CSV; 0 = all. No match is an error (exit 1), as "
    "for grep.",
])


@app.command("find", help=FIND_HELP)
def find_cmd(
    tagged: Path = typer.Argument(..., help="Output of tag-corpus (.parquet or .jsonl)."),
    topic: list[str] = typer.Option([], "--topic", help="Tagged with any of these topics (repeatable)."),
    assembly: Optional[str] = typer.Option(None, help="Only this assembly (municipality name or id prefix)."),
    date_from: Optional[str] = typer.Option(None, "--from", help="From this date: YYYY-MM-DD, YYYY-MM or YYYY."),
    date_to: Optional[str] = typer.Option(None, "--to", help="To this date, inclusive: YYYY-MM-DD, YYYY-MM or YYYY."),
    speaker: Optional[str] = typer.Option(None, help="Speaker containing this text."),
    contains: Optional[str] = typer.Option(None, help="Text containing this text."),
    min_score: Optional[float] = typer.Option(None, "--min-score",
                                              help="Score >= P (0-1) on a --topic, tagged or not (not the tags)."),
    sort: Optional[str] = typer.Option(None, help="score or date (default: score with --topic/--min-score)."),
    limit: Optional[int] = typer.Option(None, help="At most N (default 20 for the table, all otherwise; 0 = all)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="table, jsonl or csv (default: table on a terminal)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write this .jsonl or .csv file (default, or -: stdout)."),
) -> None:
    from ..atomic import check_writable, is_stream
    from ..find import find_utterances
    from ..find_output import TABLE_LIMIT, choose_format, write_found

    if not to_stdout(out):
        check_writable(out, "--out", inputs=[tagged])
    fmt = choose_format(fmt, out, terminal=console.is_terminal)
    found = find_utterances(tagged, topics=topic, assembly=assembly, date_from=date_from, date_to=date_to,
                            speaker=speaker, contains=contains, min_score=min_score, sort=sort, require_match=True,
                            limit=(TABLE_LIMIT if fmt == "table" else 0) if limit is None else limit)
    if fmt == "table":
        return print_table(found, contains)
    with output_to(out) as fh:
        # a file gets the mark; a stream named by --out (/dev/stdout, a pipe) is standard output in effect
        write_found(found, fmt, fh, bom=not (to_stdout(out) or is_stream(Path(out))))
    err_console.print(f"wrote {found.summary()}" + ("" if to_stdout(out) else f" to {out}") + _notes(found))


def _notes(found) -> str:
    cut = " (--limit 0 for all)" if len(found.records) < found.matches else ""
    undated = (f"; left out {found.undated:,} otherwise matching utterance(s) without a readable date"
               if found.undated else "")
    return cut + undated


def print_table(found, contains: Optional[str]) -> None:
    from rich.table import Table

    from ..find_output import table_cells

    names, widths, rows = table_cells(found, contains, console.width)
    table = Table()
    for i, (name, width) in enumerate(zip(names, widths)):  # folded: Japanese has no spaces to wrap at
        table.add_column(name, width=width, no_wrap=i == 0, overflow="fold",
                         justify="right" if found.topics and 3 <= i < len(names) - 1 else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    shown = f"showing {found.summary()}" if len(found.records) < found.matches else found.summary()
    legend = ("; * = tagged (over the model's threshold)" if found.topics else
              "; (topic) = none tagged, the strongest" if any(not r["topics"] for r in found.records) else "")
    console.print(shown + _notes(found) + legend)
