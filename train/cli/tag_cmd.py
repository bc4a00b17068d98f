"""``gikai-topics tag-corpus`` and ``gikai-topics timeline``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import console, err_console, progress_counter


@app.command("tag-corpus")
def tag_corpus_cmd(
    inputs: list[Path] = typer.Argument(..., help="Corpus files or folders (JSONL, JSONL.gz, seed .txt)."),
    out: Path = typer.Option(..., "--out", help="Output .parquet (or .jsonl)."),
    model: Optional[str] = typer.Option(None, "--model", help="BentoML tag or model directory (default "
                                        "gikai-topics:latest)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Worker processes on this machine, also with --dask "
                                       "local (default, or -1: one per core); not with a cluster's ADDRESS."),
    dask: Optional[str] = typer.Option(None, "--dask", help="Run on a Dask cluster: ADDRESS or 'local'."),
    chunk_size: int = typer.Option(2000, help="Utterances per work unit (and per resumable part)."),
    restart: bool = typer.Option(False, "--restart", help="Discard unfinished parts of an earlier run."),
) -> None:
    """Tag every utterance of a corpus with topics and scores; resumable, parallel, streaming."""
    from ..tagging import tag_corpus

    with progress_counter("tagging") as progress:
        s = tag_corpus(inputs, out, model=model, jobs=jobs, dask=dask, chunk_size=chunk_size, restart=restart,
                       progress=progress)
    console.print(f"tagged {s.records:,} utterances in {s.seconds:.1f}s ({s.per_second:,.0f}/s) with {s.model} "
                  f"→ {s.out}" + (f"; reused {s.chunks_reused} finished part(s)" if s.chunks_reused else ""))
    if s.bad_records:
        err_console.print(f"skipped {s.bad_records} bad record(s), e.g. " + "; ".join(s.bad_examples[:3]))


@app.command("timeline")
def timeline_cmd(
    tagged: Path = typer.Argument(..., help="Output of tag-corpus (.parquet or .jsonl)."),
    by: str = typer.Option("month", help="month, quarter or year."),
    assembly: Optional[str] = typer.Option(None, help="Only this assembly."),
    out: Path = typer.Option(Path("timeline"), "--out", help="Folder for the CSV and PNG."),
) -> None:
    """Share of utterances per topic over time, per assembly: CSV and a PNG of small multiples."""
    from ..taxonomy import load_taxonomy
    from ..timeline import write_timeline

    res = write_timeline(tagged, out, by=by, topic_ids=load_taxonomy().ids, assembly=assembly)
    console.print(f"{res['rows']} assembly-periods → {res['csv']} and {res['png']}")
    if res["undated"]:
        err_console.print(f"left out {res['undated']:,} utterance(s) without a readable YYYY-MM date (not counted in "
                          "any period)")
