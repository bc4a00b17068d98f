"""``gikai-topics corpus ...``: inspect the raw corpus and sample utterances to label."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ..errors import InputError
from . import app
from ._common import console, default_path, err_console, output_to, to_stdout

if TYPE_CHECKING:
    from ..corpus_tools import CorpusStats

# the library is imported inside each command: `--help` and usage errors need none of it (see train/cli/__init__.py)

corpus_app = typer.Typer(help="Inspect the raw corpus and sample utterances.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")

PATHS = typer.Argument(None, help="Corpus files or folders (default: the bundled seeds/).")
LENIENT = typer.Option(False, "--lenient", help="Skip bad lines and report how many, instead of stopping.")


def _paths(paths: Optional[list[Path]]) -> list[Path]:
    return list(paths) if paths else [default_path("seeds")]


def print_stats(stats: CorpusStats) -> None:
    from rich.table import Table

    console.print(f"files {stats.files}  records {stats.records:,}  exact duplicates removed {stats.duplicates_removed:,}")
    console.print(
        f"near-duplicate groups {stats.groups:,} ({stats.groups_with_copies:,} "
        f"{'group holds' if stats.groups_with_copies == 1 else 'groups hold'} "
        f"{stats.records_in_copy_groups:,} records with copies)"
    )
    if stats.bad_lines:
        err_console.print(f"skipped {stats.bad_lines} bad line(s)")
    table = Table("assembly", "records", "first date", "last date")
    for name, a in stats.assemblies.items():
        table.add_row(name, f"{a.records:,}", a.first_date or "-", a.last_date or "-")
    console.print(table)
    console.print("length (chars) percentiles: " + "  ".join(f"p{q}={v}" for q, v in stats.length_percentiles.items()))


@corpus_app.command("stats")
def stats_cmd(paths: Optional[list[Path]] = PATHS, lenient: bool = LENIENT) -> None:
    """Records, duplicates, near-duplicate groups, per-assembly counts and dates, lengths."""
    from .. import corpus_tools

    print_stats(corpus_tools.corpus_stats(_paths(paths), lenient=lenient))


@corpus_app.command("sample")
def sample_cmd(
    paths: Optional[list[Path]] = PATHS,
    n: int = typer.Option(..., "--n", help="How many utterances."),
    assembly: Optional[str] = typer.Option(None, help="Only this assembly (municipality name or id prefix)."),
    grep: Optional[str] = typer.Option(None, help="Only texts matching this regular expression."),
    min_len: int = typer.Option(0, "--min-len", "--min-chars", help="Minimum text length in characters."),
    max_len: Optional[int] = typer.Option(None, "--max-len", "--max-chars",
                                          help="Maximum text length in characters."),
    seed: int = typer.Option(0, help="Random seed (same seed, same sample)."),
    exclude: list[Path] = typer.Option([], help="JSONL files/folders whose utterances (and their copies) are left out."),
    out: Optional[Path] = typer.Option(None, help="Write JSONL here (default, or -: stdout)."),
    lenient: bool = LENIENT,
) -> None:
    """A random sample of utterances as JSONL, one per near-duplicate group."""
    from .. import corpus_tools
    from ..atomic import check_writable

    where = corpus_tools.SampleFilter(assembly=assembly, grep=grep, min_len=min_len, max_len=max_len)
    paths = _paths(paths)
    if not to_stdout(out):
        check_writable(out, "--out", inputs=[*paths, *exclude])
    records = corpus_tools.sample(paths, n, where=where, seed=seed, exclude=exclude, lenient=lenient)
    if not records:  # like grep, no match is a failure: a mistyped --grep must not leave an empty --out
        raise InputError(" ".join(["no utterance", *(["matches", where.describe()] if where.describe() else []),
                                   *(["outside --exclude"] if exclude else [])]) + "; nothing was written")
    with output_to(out) as fh:
        fh.writelines(line + "\n" for line in corpus_tools.records_to_jsonl(records))
    if not to_stdout(out):
        err_console.print(f"wrote {len(records)} utterance(s) to {out}")
    if len(records) < n:  # a sample is silently short only if nobody says so
        err_console.print(f"only {len(records)} utterance(s) matched, fewer than --n {n}")
