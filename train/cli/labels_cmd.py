"""``gikai-topics labels ...``: validate, summarise and grow the labeled data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError, LabelError
from . import app
from ._common import console, default_path, err_console, to_stdout, utf8_stdout

# the library is imported inside each command: `--help` and usage errors need none of it (see train/cli/__init__.py)


def read_labels(*args, **kwargs):
    """:func:`train.labeling.store.read_labels`, imported on first use (several commands read labels)."""
    from ..labeling.store import read_labels

    return read_labels(*args, **kwargs)


def load_taxonomy(*args, **kwargs):
    """:func:`train.taxonomy.load_taxonomy`, imported on first use (several commands check topic ids)."""
    from ..taxonomy import load_taxonomy

    return load_taxonomy(*args, **kwargs)

labels_app = typer.Typer(help="Validate, summarise and grow the labeled data.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")

DIR = typer.Argument(None, help="Labels folder or file (default: labels/).")


@labels_app.command("validate")
def validate_cmd(path: Optional[Path] = DIR) -> None:
    """Check schema, topic ids, duplicate ids, conflicting labels of the same text. Modifies nothing."""
    labels, problems = read_labels(path or default_path("labels"), strict=False)
    for p in problems:
        console.print(p)
    if problems:
        raise LabelError(f"{len(problems)} problem(s) found in {len(labels.files)} file(s)")
    console.print(f"ok: {len(labels):,} labeled utterances in {len(labels.files)} file(s), no problems")


def print_label_stats(st) -> None:
    from rich.table import Table

    console.print(f"{st.examples:,} labeled utterances in {st.files} file(s); zero-topic "
                  f"{st.zero_topic:,} ({st.zero_topic_share:.1%})")
    if st.decided_again:
        both = st.by_majority + st.by_reviewer - st.decided_again
        console.print(f"decided again since their first reading (an 'adjudicated' note): {st.decided_again:,} "
                      f"({st.decided_again / st.examples:.1%}; by the majority of three readings {st.by_majority:,}, "
                      f"by a reviewer {st.by_reviewer:,}, by both {both:,})")
    t = Table("topic", "positives", "share")
    for topic, n in st.positives.items():
        t.add_row(topic, f"{n:,}", f"{n / max(1, st.examples):.1%}")
    console.print(t)
    a = Table("assembly", "utterances")
    for name, n in st.assemblies.items():
        a.add_row(name, f"{n:,}")
    console.print(a)
    console.print("topics per utterance: " + "  ".join(f"{k}:{v:,}" for k, v in st.topics_per_example.items()))
    ids = list(st.positives)
    co = Table("co-occurrence", *[i[:6] for i in ids])
    for x in ids:
        co.add_row(x, *[str(st.cooccurrence[x][y]) if x != y else "-" for y in ids])
    console.print(co)


@labels_app.command("stats")
def stats_cmd(path: Optional[Path] = DIR) -> None:
    """Per-topic positives, zero-topic share, per-assembly counts, topic co-occurrence."""
    from ..labeling.store import label_stats

    labels, _ = read_labels(path or default_path("labels"))
    print_label_stats(label_stats(labels))


@labels_app.command("merge")
def merge_cmd(
    batch: Path = typer.Argument(..., help="A batch's records (.jsonl written by `labels batch`)."),
    answers: Path = typer.Argument(..., help="The reader's answers: key<TAB>topics<TAB>note lines."),
    out: Path = typer.Option(..., help="Label file to append to."),
    annotator: str = typer.Option(..., help="Who read this batch."),
) -> None:
    """Join a reader's answers to a batch and append them to a label file (all or nothing)."""
    from ..labeling import editing

    n, same, note = editing.merge_answers(batch, answers, out, annotator=annotator, taxonomy=load_taxonomy())
    if note:
        err_console.print(note)
    err_console.print(f"appended {n} labels to {out}" + (f"; {same} already labeled with the same topics, left as "
                                                         "they are" if same else ""))


@labels_app.command("batch")
def batch_cmd(
    pool: Path = typer.Argument(..., help="JSONL of utterances to label (e.g. from `corpus sample`)."),
    out_dir: Path = typer.Option(..., "--out-dir", help="Where to write reading files."),
    prefix: str = typer.Option("b", help="Batch name prefix."),
    max_chars: int = typer.Option(28000, help="Characters of text per reading file."),
) -> None:
    """Split a pool into reading files for parallel readers."""
    from ..labeling import editing

    files = editing.make_batches(pool, out_dir, prefix=prefix, max_chars=max_chars)
    err_console.print(f"wrote {len(files)} reading file(s) to {out_dir}")


@labels_app.command("pool")
def pool_cmd(
    pool: list[Path] = typer.Option(..., "--pool", help="Corpus files or folders to choose from (e.g. seeds/)."),
    out: Path = typer.Option(..., help="Pool JSONL to write (then split it with `labels batch`)."),
    size: int = typer.Option(1000, help="How many utterances to choose."),
    strategy: str = typer.Option("uncertainty", help="uncertainty (per topic, needs a model) or random."),
    topics: str = typer.Option("", help="Comma-separated topic ids to share the uncertainty pool (default: all)."),
    model: Optional[str] = typer.Option(None, help="Model tag or directory (default: gikai-topics:latest)."),
    assembly: Optional[str] = typer.Option(None, help="Only this assembly (municipality name or id prefix)."),
    labels: Optional[Path] = typer.Option(None, help="Labels already made, left out (default: labels/)."),
    min_chars: int = typer.Option(60, help="Only utterances of at least this many characters."),
    max_chars: int = typer.Option(3000, help="Only utterances of at most this many characters."),
    max_pool: int = typer.Option(20000, help="At most this many candidates are sampled and scored."),
    seed: int = typer.Option(0, help="Random seed for sampling and the random draw (same seed, same pool)."),
) -> None:
    """Choose utterances for a team to read next: nearest each topic's threshold, or random."""
    from ..atomic import check_writable
    from ..labeling.pool import PoolSpec, select_pool, write_pool

    spec = PoolSpec(size=size, strategy=strategy, topics=tuple(t.strip() for t in topics.split(",") if t.strip()),
                    assembly=assembly, min_chars=min_chars, max_chars=max_chars, max_pool=max_pool, seed=seed)
    check_writable(out, "--out", inputs=[*pool, labels or default_path("labels")])
    chosen = select_pool(pool, spec, taxonomy=load_taxonomy(), labels_dir=labels or default_path("labels"),
                         model=model, out=sys.stderr)
    write_pool(chosen, out)
    err_console.print(f"wrote {len(chosen)} utterance(s) to {out}; next: gikai-topics labels batch {out} --out-dir DIR")


@labels_app.command("add")
def add_cmd(
    out: Path = typer.Option(..., help="Label file to append to."),
    json_record: Optional[str] = typer.Option(None, "--json", help="A whole record as JSON."),
    id: Optional[str] = typer.Option(None, help="Utterance id."),
    text: Optional[str] = typer.Option(None, help="Utterance text."),
    topics: Optional[str] = typer.Option(None, help="Comma-separated topic ids ('' or leave out for none)."),
    municipality: Optional[str] = typer.Option(None, help="The utterance's assembly (e.g. 品川区)."),
    annotator: Optional[str] = typer.Option(None, help="Who labeled it."),
) -> None:
    """Append one labeled utterance (validated; refused if its id or text is already labeled differently)."""
    from ..labeling import editing

    record = editing.record_from_args(json_record, id=id, text=text, topics=topics, municipality=municipality,
                                      annotator=annotator)
    added = editing.add_label(record, out, labels_dir=out.parent, taxonomy=load_taxonomy())
    if added.already:
        err_console.print(f"{record['id']} is already labeled with the same topics at {added.already}; left as it is")
        return
    if added.note:
        err_console.print(added.note)
    err_console.print(f"added {record['id']} to {out}")


FORMAT = typer.Option("label-studio", "--format", help="Only 'label-studio' (its JSON tasks export) for now.")


def _check_format(fmt: str) -> None:
    if fmt != "label-studio":
        raise InputError(f"--format: expected 'label-studio', found {fmt!r}")


def _export_targets(out: Optional[Path], config_out: Optional[Path], labels: Path) -> dict[str, Optional[Path]]:
    """Where `labels export` writes its tasks and its config (None: standard output), checked before any work.
    The config goes to standard output when only the tasks have a file."""
    from ..atomic import check_writable

    targets = {"tasks": None if to_stdout(out) else out}
    if config_out is not None or targets["tasks"] is not None:
        targets["config"] = None if to_stdout(config_out) else config_out
    if list(targets.values()) == [None, None]:
        raise InputError("--config-out -: the tasks go to standard output already; expected a file for one of them")
    if None not in targets.values() and len(targets) == 2 and Path(out).resolve() == Path(config_out).resolve():
        raise InputError(f"--config-out {config_out}: is also --out; expected two different files")
    for key, path in targets.items():
        if path is not None:
            check_writable(path, "--out" if key == "tasks" else "--config-out", inputs=[labels])
    return targets


@labels_app.command("export")
def export_cmd(
    fmt: str = FORMAT,
    labels: Optional[Path] = typer.Option(None, help="Labels folder or file (default: labels/)."),
    out: Optional[Path] = typer.Option(None, help="Write the tasks JSON here (default, or -: stdout)."),
    config_out: Optional[Path] = typer.Option(None, help="Write the matching labeling config XML here (default: "
                                              "stdout when --out names a file; - for stdout)."),
) -> None:
    """Export labels as Label Studio tasks, with the labeling config to paste into the project."""
    from ..labeling.labelstudio import export_label_studio, write_export

    _check_format(fmt)
    targets = _export_targets(out, config_out, labels or default_path("labels"))
    tasks, config, n = export_label_studio(labels or default_path("labels"), load_taxonomy())
    write_export(tasks, config, out=targets["tasks"], config_out=targets.get("config"))  # the files: both or neither
    with utf8_stdout() as fh:  # raw (no rich markup), UTF-8 whatever the locale
        fh.writelines({"tasks": tasks, "config": config}[key] for key, path in targets.items() if path is None)
    err_console.print(f"exported {n:,} labeled utterances as Label Studio tasks"
                      + (f" to {out}" if targets["tasks"] else ""))


@labels_app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="A Label Studio JSON export (a list of tasks)."),
    fmt: str = FORMAT,
    out: Optional[Path] = typer.Option(None, help="Label file to append to (default: labels/label-studio.jsonl)."),
    labels: Optional[Path] = typer.Option(None, help="Labels to check conflicts against (default: labels/)."),
) -> None:
    """Import Label Studio annotations: all validated first, then written atomically, or nothing."""
    from ..labeling.labelstudio import import_label_studio

    _check_format(fmt)
    labels_dir = labels or default_path("labels")
    res = import_label_studio(file, out or labels_dir / "label-studio.jsonl", load_taxonomy(), labels_dir=labels_dir)
    if res.note:
        err_console.print(res.note)
    err_console.print(f"imported {len(res.records):,} label(s) to {out or labels_dir / 'label-studio.jsonl'}; "
                      f"{res.already_present:,} already present, {res.unannotated:,} task(s) without annotations")
