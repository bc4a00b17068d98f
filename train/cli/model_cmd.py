"""``gikai-topics train`` and ``gikai-topics predict``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import (console, default_path, discard_stdout, err_console, progress_printer, summary_table,
                      utf8_stdout)

MODEL = typer.Option(None, "--model", help="BentoML tag NAME[:VERSION] or a model directory (default gikai-topics:latest).")


@app.command("train")
def train_cmd(
    labels: Optional[Path] = typer.Option(None, help="Labels folder or file (default: labels/)."),
    config: Optional[Path] = typer.Option(None, help="TOML file overriding the embedded defaults."),
    name: str = typer.Option("gikai-topics", help="Model name in the BentoML store."),
    out: Optional[Path] = typer.Option(None, help="Also export the model to this directory."),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Processes for the threshold folds and the final fit "
                                       "(-1: one per core; at most thresholds.folds + 1 are used; default: the "
                                       "config's n_jobs, 1). The model is the same; each process holds the features."),
) -> None:
    """Fit the topic model on the labels and save it to the BentoML model store."""
    from ..config import load_config
    from ..training import train

    with progress_printer() as progress:
        result = train(labels or default_path("labels"), load_config(config), name=name, out=out, progress=progress,
                       n_jobs=jobs)
    console.print(f"saved {result.tag}" + (f" and {result.out}" if result.out else "")
                  + f" in {result.seconds:.1f}s from {result.manifest['label_count']:,} labels")
    console.print(summary_table(result.manifest))


@app.command("predict")
def predict_cmd(
    model: Optional[str] = MODEL,
    text: Optional[str] = typer.Option(None, "--text", help="Tag this one text."),
    input: Optional[str] = typer.Option(None, "--input", help="JSONL file of {\"id\", \"text\"} lines (or gzip of it), "
                                        "or - for stdin."),
    output: Optional[Path] = typer.Option(None, "--output", "--out", help="Write JSONL here (default, or -: stdout)."),
    source: Optional[str] = typer.Argument(None, metavar="-|FILE.jsonl", help="The same as --input: - for stdin."),
) -> None:
    """Tag texts: JSONL lines {"id", "topics", "scores"}."""
    from .. import predict as predict_mod
    from ..inference import load_model

    items, output = predict_mod.prepare(text, predict_mod.one_input(input, source), output)
    tagger = load_model(model)
    if output is None:
        try:
            with utf8_stdout() as out:
                predict_mod.stream_predictions(tagger, items, out)
        except predict_mod.StdoutWriteError:
            discard_stdout()  # no second failure flushing the buffered lines at exit
            raise
        return
    n = predict_mod.predict_to_file(tagger, items, output)
    err_console.print(f"wrote {n} predictions to {output}")
