"""``gikai-topics train`` and ``gikai-topics predict``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .. import predict as predict_mod
from ..atomic import atomic_open, check_writable
from ..config import load_config
from ..errors import InputError, Interrupted
from ..inference import load_model
from ..training import train
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
) -> None:
    """Tag texts: JSONL lines {"id", "topics", "scores"}."""
    if (text is None) == (input is None):
        raise InputError("give exactly one of --text TEXT or --input FILE.jsonl (or --input - for stdin)")
    if output is not None and str(output) == "-":  # as --input -: standard output, not a file named "-"
        output = None
    if output is not None:
        check_writable(output, inputs=[input] if input is not None else ())
    items = [(None, predict_mod.check_text(text))] if text is not None else predict_mod.load_inputs(input)
    tagger = load_model(model)
    if output is None:
        written = 0
        try:
            with utf8_stdout() as out:
                for line in predict_mod.predict_lines(tagger, items):
                    out.write(line + "\n")
                    written += 1
        except KeyboardInterrupt:  # the lines written are out there: "nothing was written" would be untrue
            raise Interrupted(f"interrupted after {written:,} of {len(items):,} prediction(s) were written to standard "
                              "output, which is therefore incomplete; run the command again (an interrupted run with "
                              "--output FILE leaves no file)") from None
        except BrokenPipeError:  # the reader went away (`| head`): click's quiet exit
            raise
        except OSError as exc:  # a full disk under `> file`: one line, and no second failure flushing at exit
            discard_stdout()
            raise InputError(f"cannot write to standard output ({exc.strerror or exc}) after at most {written:,} of "
                             f"{len(items):,} prediction(s); the output is incomplete") from None
        return
    try:
        with atomic_open(output) as fh:
            n = predict_mod.write_predictions(tagger, items, fh)
    except OSError as exc:  # a full disk, say; atomic_open has removed its temporary file
        raise InputError(f"--output {output}: cannot write it ({exc.strerror or exc}); nothing was written") from None
    err_console.print(f"wrote {n} predictions to {output}")
