"""The review half of the labeling loop (``labels pool`` and ``labels batch`` choose what to read first):
``labels agreement`` measures two independent readings, ``labels adjudicate`` decides by the majority of three,
``labels revise`` applies a reviewer's decisions; ``labels suspects`` (by a model's doubt) and ``labels select`` (by
the words of a guideline row) choose which labels already made to read again."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import LabelError
from ._common import console, default_path, err_console, progress_printer
from .labels_cmd import labels_app, load_taxonomy, read_labels

# the library is imported inside the command: `--help` and usage errors need none of it (see train/cli/__init__.py)


def print_agreement(res: dict) -> None:
    from rich.table import Table

    t = Table("topic", "kappa", "F1", "positives 1st", "positives 2nd", "disagreements")
    fmt = lambda k: "–" if k is None else f"{k:.3f}"  # noqa: E731  (undefined: neither pass varies / has a positive)
    for topic, v in res["topics"].items():
        t.add_row(topic, fmt(v["kappa"]), fmt(v["f1"]), str(v["positives_first"]),
                  str(v["positives_second"]), str(v["disagreements"]))
    skipped = res["topics_without_kappa"]
    console.print(f"{res['items']} items; exact match {res['exact_match']:.1%}; mean kappa {fmt(res['mean_kappa'])}"
                  + (f" (over {len(res['topics']) - len(skipped)} topics; undefined for {', '.join(skipped)})"
                     if skipped else "") + f"; micro-F1 {fmt(res['micro_f1'])}")
    console.print(t)


@labels_app.command("agreement")
def agreement_cmd(
    first: Path = typer.Argument(..., help="First-pass labels (folder or file)."),
    second: Path = typer.Argument(..., help="Independent second-pass labels of some of the same ids."),
) -> None:
    """Per-topic Cohen's kappa and F1 between two independent labeling passes."""
    from ..labeling.agreement import agreement

    res = agreement(read_labels(first)[0], read_labels(second)[0])
    if not res["items"]:
        raise LabelError(f"{second}: shares no ids with {first}")
    print_agreement(res)


def print_revision(res, topic_order: list[str]) -> None:
    """Each label changed (``file:line: id: before -> after``), then how many were compared and changed, per topic."""
    shown = lambda topics: ",".join(topics) or "-"  # noqa: E731
    for c in res.changes:
        console.print(f"{c.where}: {c.id}: {shown(c.before)} -> {shown(c.after)}")
    per_topic = ", ".join(f"{t} " + " ".join(f"{s}{n}" for s, n in (("+", add), ("-", rm)) if n)
                          for t, (add, rm) in res.topic_counts(topic_order).items())
    files = ", ".join(map(str, res.files))
    if res.dry_run:
        written = "dry run: nothing written" + (f" (would rewrite {files})" if files else "")
    else:
        written = f"rewrote {files}" if files else "nothing written"
    err_console.print(f"{res.compared:,} {res.counted}; {len(res.changes):,} changed" + (f" ({per_topic})" if per_topic
                      else "") + f", {res.unchanged:,} unchanged; {written}")
    if overridden := sum(c.earlier is not None for c in res.changes):
        err_console.print(f"note: {overridden} of the changed labels had been decided again already (an 'adjudicated' "
                          "note), so this overrides a later decision, not a first reading: check those changes")


DRY_RUN = typer.Option(False, "--dry-run", help="Check and show the changes; write nothing.")


@labels_app.command("adjudicate")
def adjudicate_cmd(
    first: Path = typer.Argument(..., help="First-pass labels (folder or file): rewritten where the majority differs."),
    second_a: Path = typer.Argument(..., help="One independent second pass of some of those ids (a label file)."),
    second_b: Path = typer.Argument(..., help="The other independent second pass, of the same ids."),
    labels: Optional[Path] = typer.Option(None, help="Labels checked as a whole before anything is written "
                                          "(default: labels/; a file, with the other label files of its folder)."),
    annotators: Optional[str] = typer.Option(None, help="The two second-pass readers, 'A,B', for the note (default: "
                                             "each file's 'annotator')."),
    dry_run: bool = DRY_RUN,
    force: bool = typer.Option(False, "--force", help="Also change labels decided again since their first reading "
                               "(an 'adjudicated' note), undoing that decision."),
) -> None:
    """Decide ids read by three independent passes by majority, per topic; rewrite first-pass labels in place."""
    from ..labeling.revise import adjudicate, split_names

    taxonomy = load_taxonomy()
    res = adjudicate(first, second_a, second_b, labels_dir=labels or default_path("labels"), taxonomy=taxonomy,
                     annotators=split_names(annotators), dry_run=dry_run, force=force)
    print_revision(res, taxonomy.ids)


@labels_app.command("revise")
def revise_cmd(
    changes: Path = typer.Argument(..., help="A reviewer's decisions: id<TAB>topics<TAB>why lines ('-': no topic)."),
    reviewer: str = typer.Option(..., help="Who reviewed (e.g. reader-R24)."),
    reason: str = typer.Option(..., help="What the labels were reviewed against, opening each label's note."),
    labels: Optional[Path] = typer.Option(None, help="Labels folder or file to change (default: labels/); a file is "
                                          "checked with the other label files of its folder."),
    dry_run: bool = DRY_RUN,
) -> None:
    """Apply a reviewer's decisions to labels in place (previous_topics kept, the reason noted); all or nothing."""
    from ..labeling.revise import revise

    taxonomy = load_taxonomy()
    res = revise(changes, reviewer=reviewer, reason=reason, labels_dir=labels or default_path("labels"),
                 taxonomy=taxonomy, dry_run=dry_run)
    print_revision(res, taxonomy.ids)



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
    exclude: list[Path] = typer.Option([], "--exclude", help="Reading file(s) or folder(s) of labels read again "
                                       "already, left out: earlier suspects or batches (JSONL with \"id\") or answers "
                                       "(id<TAB>...)."),
    out: Path = typer.Option(..., help="JSONL for the readers: id, municipality, date, speaker, current_topics, text "
                             "(no scores, no suspected topic)."),
    model_view: Optional[Path] = typer.Option(None, "--model-view", help="JSONL of the model's view, for the "
                                              "maintainer only: suspicion and each disagreement's score, threshold."),
) -> None:
    """Labels a cross-validated model disagrees with most, for readers to re-read (the model orders, readers decide)."""
    from ..config import load_config
    from ..labeling.suspects import check_outputs, find_suspects, summary, write_suspects

    labels = labels or default_path("labels")
    check_outputs(out, model_view, labels, exclude)
    with progress_printer() as progress:
        run = find_suspects(read_labels(labels)[0], load_config(config), folds=folds, jobs=jobs, size=size,
                            topics=topics, include_adjudicated=include_adjudicated, seed=seed, exclude=exclude,
                            progress=progress)
    write_suspects(run, out, model_view)
    for line in summary(run, out, model_view):
        err_console.print(line)


@labels_app.command("select")
def select_cmd(
    match: list[str] = typer.Option([], "--match", help="NAME=REGEX: a guideline row's name and the words that may "
                                    "touch it (repeat the option for more rows)."),
    patterns: Optional[Path] = typer.Option(None, "--patterns", help="TOML file of NAME = 'REGEX' lines (single "
                                            "quotes; kept with the review's records, so the selection can be redone)."),
    labels: Optional[Path] = typer.Option(None, help="Labels folder or file to choose from (default: labels/)."),
    assembly: list[str] = typer.Option([], "--assembly", help="Only labels of this assembly (repeat for more)."),
    with_topics: bool = typer.Option(False, "--with-topics", help="Only labels with at least one topic (for rows "
                                     "that can only take topics away)."),
    exclude: list[Path] = typer.Option([], "--exclude", help="Reading file(s) or folder(s) of labels read again "
                                       "already, left out (as for `labels suspects`)."),
    size: Optional[int] = typer.Option(None, help="At most this many labels, drawn at random (default: all)."),
    seed: int = typer.Option(0, help="Seed of the shuffle (and of the --size draw)."),
    out: Path = typer.Option(..., help="JSONL for the readers: id, municipality, date, speaker, current_topics, "
                             "rows_to_check, text."),
) -> None:
    """Labels whose words may touch a guideline row, for readers to re-read against it (words choose, readers decide)."""
    from ..labeling.select import parse_patterns, select_labels, summary, write_selection
    from ..labeling.suspects import check_outputs

    labels = labels or default_path("labels")
    found = parse_patterns(match, patterns)
    check_outputs(out, None, labels, [*exclude, *([patterns] if patterns else [])])
    run = select_labels(read_labels(labels)[0], found, assemblies=assembly, with_topics=with_topics,
                        exclude=exclude, size=size, seed=seed)
    write_selection(run, out)
    for line in summary(run, out):
        err_console.print(line)
