"""``gikai-topics labels suspects``: which labels already made to read again (the review half of the labeling loop;
``labels pool`` chooses what to read first)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._common import default_path, err_console, progress_printer
from .labels_cmd import labels_app, read_labels

# the library is imported inside the command: `--help` and usage errors need none of it (see train/cli/__init__.py)


@labels_app.command("suspects")
def suspects_cmd(
    labels: Optional[Path] = typer.Option(None, help="Labels folder or file to review (default: labels/)."),
    config: Optional[Path] = typer.Option(None, help="TOML file overriding the embedded defaults."),
    size: int = typer.Option(300, help="How many labels to list, most suspicious first."),
    topics: str = typer.Option("", help="Comma-separated topic ids whose disagreements count (default: all)."),
    folds: int = typer.Option(5, help="Cross-validation folds (near-duplicates kept in one fold)."),
    jobs: int = typer.Option(1, "--jobs", help="Folds fitted side by side in processes (-1: one per core)."),
    seed: int = typer.Option(0, help="Seed of the folds (same seed, same suspects)."),
    include_adjudicated: bool = typer.Option(False, "--include-adjudicated", help="Also list labels decided again "
                                             "already (an 'adjudicated' note: a majority of three, a reviewer)."),
    exclude: list[Path] = typer.Option([], "--exclude", help="Reading file(s) of labels read again already, left "
                                       "out: earlier suspects or batches (JSONL with \"id\") or answers (id<TAB>...)."),
    out: Path = typer.Option(..., help="JSONL for the readers: id, municipality, date, speaker, current_topics, text "
                             "(no scores, no suspected topic)."),
    model_view: Optional[Path] = typer.Option(None, "--model-view", help="JSONL of the model's view, for the "
                                              "maintainer only: suspicion and each disagreement's score, threshold."),
) -> None:
    """Labels a cross-validated model disagrees with most, for readers to re-read (the model orders, readers decide)."""
    from ..config import load_config
    from ..labeling.suspects import check_outputs, find_suspects, summary, write_suspects

    labels = labels or default_path("labels")
    check_outputs(out, model_view, labels)
    with progress_printer() as progress:
        run = find_suspects(read_labels(labels)[0], load_config(config), folds=folds, jobs=jobs, size=size,
                            topics=topics, include_adjudicated=include_adjudicated, seed=seed, exclude=exclude,
                            progress=progress)
    write_suspects(run, out, model_view)
    for line in summary(run, out, model_view):
        err_console.print(line)
