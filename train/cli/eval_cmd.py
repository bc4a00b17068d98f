"""``gikai-topics evaluate``: cross-validation reports, or a saved model on a test file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from . import app
from ._common import console, progress_printer


@app.command("evaluate")
def evaluate_cmd(
    labels: Optional[Path] = typer.Option(None, help="Labels folder or file (default: labels/)."),
    config: Optional[Path] = typer.Option(None, help="TOML file overriding the embedded defaults."),
    folds: int = typer.Option(5, help="Number of CV folds."),
    repeats: int = typer.Option(1, help="Repeat CV with different fold seeds."),
    out: Path = typer.Option(Path("reports/latest"), help="Folder for report.json, report.md, report.html."),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Parallel fits (processes) on this machine (default 1; -1: "
                                       "one per core; with --dask local, the local cluster's workers, default 2)."),
    dask: Optional[str] = typer.Option(None, "--dask", help="Run the fits on a Dask cluster: ADDRESS or 'local'."),
    model: Optional[str] = typer.Option(None, "--model", help="Evaluate this saved model instead (needs --test)."),
    test: Optional[Path] = typer.Option(None, "--test", help="Labeled JSONL test file for --model."),
    quick: bool = typer.Option(False, "--quick", help="Skip learning curve, baselines and held-out assemblies."),
    skip: list[str] = typer.Option([], "--skip", help="Leave out one part: learning-curve, baselines or held-out "
                                   "(repeat the option for more)."),
    loao_vectors: str = typer.Option("strict", help="Held-out assemblies: 'strict' re-learns word vectors without "
                                     "the held-out text; 'shared' uses the configured vectors."),
    corpus: Optional[list[Path]] = typer.Option(None, help="Unlabeled corpus for strict vectors (default: seeds/)."),
    score_model_chosen: bool = typer.Option(False, "--score-model-chosen", help="Also score test items that "
                                            "`labels pool` chose by a model's uncertainty (by default they only "
                                            "train)."),
    adapt: Optional[str] = typer.Option(None, "--adapt", help="Adaptation curve, e.g. 500,2000: refit each held-out "
                                        "assembly's fold with that many of its own labels and score the rest (how "
                                        "many labels a new council needs)."),
) -> None:
    """Leakage-safe CV with per-topic metrics, held-out assemblies, baselines, learning curve, error analysis."""
    from rich.table import Table

    from ..evaluation.report import check_report_dir, write_reports
    from ..evaluation.runner import parse_counts, run_evaluation
    from ..evaluation.tables import HEADLINE_HEADER, headline_rows

    if (model is None) != (test is None):
        raise InputError("--model and --test go together: evaluate a saved model on a labeled test file")
    check_report_dir(out)  # before hours of fitting, not after
    with progress_printer() as progress:
        report = run_evaluation(labels, config, folds=folds, repeats=repeats, jobs=jobs,
                                dask=dask, model=model, test=test, quick=quick, skip=skip, loao_vectors=loao_vectors,
                                corpus=corpus, score_model_chosen=score_model_chosen,
                                adapt=parse_counts(adapt, "--adapt"), progress=progress)
        write_reports(report, out)
    table = Table(*HEADLINE_HEADER, title="headline")
    for row in headline_rows(report):
        table.add_row(*row)
    console.print(table)
    console.print(f"reports: {out}/report.html, report.md, report.json")
