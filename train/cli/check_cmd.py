"""The check of a review (``labels revise`` applied one reader's decisions): ``labels checks`` draws every change and
some kept labels for two more readers, ``labels second-pass`` turns each checker's answers into a label file that
``labels agreement`` measures and ``labels adjudicate`` decides by the majority of three."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._common import default_path, err_console
from .labels_cmd import labels_app, load_taxonomy, read_labels


@labels_app.command("checks")
def checks_cmd(
    reading: list[Path] = typer.Option(..., "--reading", help="The readers' file(s) or folder(s) the review read "
                                       "(labels select / labels suspects JSONL: the label before the review)."),
    answers: list[Path] = typer.Option(..., "--answers", help="The reviewer's answers: id<TAB>topics<TAB>why file(s) "
                                       "or folder(s), as given to labels revise."),
    kept: int = typer.Option(40, help="Labels the review kept, drawn at random and mixed in with the changes."),
    parts: int = typer.Option(2, help="Check files to split the sample into (two readers read each)."),
    seed: int = typer.Option(0, help="Seed of the draw and of the shuffle."),
    labels: Optional[Path] = typer.Option(None, help="The labels folder, kept apart from the check files (default: "
                                          "labels/)."),
    out_dir: Path = typer.Option(..., "--out-dir", help="Folder for check1.jsonl ... checkN.jsonl."),
) -> None:
    """Every change of a review and some kept labels, for two more readers each (shown the label before the review)."""
    from ..labeling.checks import check_check_outputs, checks_summary, draw_checks, write_checks

    check_check_outputs(out_dir, reading, answers, labels or default_path("labels"))
    sample = draw_checks(reading, answers, load_taxonomy().ids, kept=kept, parts=parts, seed=seed)
    for line in checks_summary(sample, write_checks(sample, out_dir)):
        err_console.print(line)


@labels_app.command("second-pass")
def second_pass_cmd(
    answers: Path = typer.Argument(..., help="One checker's answers to one check file: id<TAB>topics<TAB>why lines."),
    check: Path = typer.Option(..., "--check", help="The check file the checker read (from labels checks)."),
    annotator: str = typer.Option(..., help="The checker's name (e.g. reader-R12)."),
    batch: Optional[str] = typer.Option(None, help="Name of this second pass (default: the check file's name)."),
    labels: Optional[Path] = typer.Option(None, help="Labels the check was drawn from (default: labels/)."),
    out: Path = typer.Option(..., help="Label file to write (e.g. labels/agreement/NAME-A.jsonl), outside the labels "
                             "folder itself."),
) -> None:
    """One checker's answers as a label file for labels agreement and labels adjudicate."""
    from ..labeling.checks import check_second_pass_output, second_pass, write_second_pass

    labels = labels or default_path("labels")
    label_set, _ = read_labels(labels)
    check_second_pass_output(out, answers, check, label_set, labels)
    records = second_pass(answers, check, label_set, load_taxonomy().ids, annotator=annotator, batch=batch)
    write_second_pass(records, out)
    err_console.print(f"wrote {len(records):,} label(s) of {annotator} to {out}; next: gikai-topics labels agreement "
                      f"{labels} {out}, and labels adjudicate with the other checker's file")
