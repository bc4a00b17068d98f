"""``gikai-topics label``: label utterances in the terminal, most informative first."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import default_path


@app.command("label")
def label_cmd(
    more: Optional[list[Path]] = typer.Argument(None, metavar="POOL", help="More corpus files or folders, as "
                                                "--pool (so `--pool a.jsonl b.jsonl` takes both)."),
    pool: list[Path] = typer.Option([], "--pool", help="Corpus files or folders to label from."),
    out: Path = typer.Option(..., help="Label file to append to (e.g. labels/mine.jsonl)."),
    model: Optional[str] = typer.Option(None, help="Model tag or directory for suggestions and ordering "
                                        "(default: gikai-topics:latest if any; 'none' for no suggestions)."),
    strategy: Optional[str] = typer.Option(None, help="uncertainty (default with a model) or random."),
    assembly: Optional[str] = typer.Option(None, help="Only this assembly (municipality name or id prefix)."),
    labels: Optional[Path] = typer.Option(None, help="Labels already made, left out (default: labels/)."),
    max_pool: int = typer.Option(5000, help="At most this many candidates are sampled and scored."),
    seed: int = typer.Option(0, help="Random seed for sampling and random order."),
    annotator: Optional[str] = typer.Option(None, help="Your name in each record (default: $USER)."),
) -> None:
    """Label utterances one by one: toggle topics by key, accept, skip, undo; quit and resume any time."""
    from ..errors import Interrupted
    from ..labeling.session import run_label_session

    res = run_label_session([*pool, *(more or [])], out, model=model, strategy=strategy, assembly=assembly,
                            labels_dir=labels or default_path("labels"), max_pool=max_pool, seed=seed,
                            annotator=annotator)
    if res.interrupted:  # not exit 0: a script or supervisor that stopped the session must be able to tell
        raise Interrupted(f"interrupted; the {res.accepted} label(s) accepted in this session are saved in {out}: "
                          "run the same command again to resume")
