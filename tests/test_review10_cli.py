"""Tenth session: a review of the CLI as a whole (help texts, option names, error paths, output targets).

Each test failed on the code before its fix; the module docstring of each group says what the user saw."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT
from train.cli import main

CORPUS = str(FIXTURES / "corpus_sample.jsonl")
LABELS = str(FIXTURES / "labels.jsonl")


def _inputs(tmp_path: Path) -> Path:
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": 1, "text": "保育園の待機児童対策について伺います"}\n{"id": 2, "text": "防災訓練"}\n',
                   encoding="utf-8")
    return inp


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# --- `python -m train.cli` (the way the docs and helpers run a checkout) said "cannot be directly executed"

def test_the_cli_runs_as_a_module():
    r = subprocess.run([sys.executable, "-m", "train.cli", "--help"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert "Usage: gikai-topics" in r.stdout and "tag-corpus" in r.stdout


# --- user text printed through rich: a path or id holding `[/x]` was a MarkupError traceback after the work was
# done (the label already appended, the file already written); `[bold]` vanished from the name shown; `:warning:`
# became an emoji

def test_an_id_that_looks_like_markup_is_printed_as_it_is(tmp_path, capsys):
    out = tmp_path / "l.jsonl"
    assert main(["labels", "add", "--out", str(out), "--id", "[/x]", "--text", "防災訓練について", "--topics",
                 "disaster"]) == 0
    assert main(["labels", "add", "--out", str(out), "--id", ":warning: b", "--text", "学校給食について",
                 "--topics", "education"]) == 0
    err = capsys.readouterr().err
    assert f"added [/x] to {out}" in err and f"added :warning: b to {out}" in err


def test_an_output_path_that_looks_like_markup_is_named_as_it_is(tmp_path, capsys, trained_model_dir):
    out = tmp_path / "[bold]s.jsonl"
    assert main(["corpus", "sample", CORPUS, "--n", "2", "--out", str(out)]) == 0
    assert f"to {out}" in capsys.readouterr().err
    pred = tmp_path / "[" / "x].jsonl"  # the path "[/x].jsonl"
    assert main(["predict", "--model", str(trained_model_dir), "--input", str(_inputs(tmp_path)),
                 "--output", str(tmp_path / "[/x].jsonl")]) == 0
    assert pred.exists() and f"wrote 2 predictions to {tmp_path / '[/x].jsonl'}" in capsys.readouterr().err


# --- Ctrl-C (or SIGTERM) in the first second, while the commands' modules were still being imported: a
# KeyboardInterrupt traceback of numpy / scipy internals and death by SIGINT, instead of exit 130

def test_an_interrupt_while_the_commands_load_is_exit_130(monkeypatch, capsys):
    import signal

    import train.cli as cli

    seen = {}

    def register():
        seen["sigterm"] = signal.getsignal(signal.SIGTERM)  # already turned into an interrupt
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_register", register)
    try:
        code = main(["corpus", "stats"])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped main()")
    assert code == 130
    assert seen["sigterm"] is cli._interrupt
    assert "interrupted" in _one_error_line(capsys.readouterr().err)


# --- outputs that are not regular files: `--output /dev/stdout` (or /dev/null, a named pipe) was written to a
# temporary file beside it and renamed over it: as root that replaced /dev/stdout itself with a regular file
# (as another user: "no permission to write in /dev"); a symlink to a file was replaced by a file

def test_output_to_a_named_pipe_writes_into_the_pipe(tmp_path, trained_model_dir):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so the writer's open does not block
    try:
        assert main(["predict", "--model", str(trained_model_dir), "--input", str(_inputs(tmp_path)),
                     "--output", str(fifo)]) == 0
        data = b""
        while chunk := os.read(reader, 65536):
            data += chunk
    except BlockingIOError:
        pass
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode), "the pipe was replaced by a regular file"
    assert [json.loads(line)["id"] for line in data.decode("utf-8").splitlines()] == [1, 2]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_output_through_a_symlink_replaces_the_file_and_keeps_the_link(tmp_path, trained_model_dir):
    (tmp_path / "runs").mkdir()
    real = tmp_path / "runs" / "r1.jsonl"
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(real)
    assert main(["corpus", "sample", CORPUS, "--n", "3", "--out", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert len(real.read_text(encoding="utf-8").splitlines()) == 3


def test_a_binary_output_to_a_pipe_is_whole(tmp_path):
    """`vectors build --out /dev/null` (a dry run) or a named pipe: zip writers seek back to write their index, so
    the bytes are gathered first (the old rename replaced /dev/null itself, as root)."""
    import threading

    import numpy as np

    from train.atomic import atomic_open

    fifo = tmp_path / "v.npz"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    with atomic_open(fifo, "wb") as fh:
        np.savez_compressed(fh, a=np.arange(5))
    reader.join(60)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    copy = tmp_path / "copy.npz"
    copy.write_bytes(got[0])
    assert np.load(copy)["a"].tolist() == [0, 1, 2, 3, 4]


# --- `-` as the output (the project's name for the standard streams, as `predict --input -`): a file named "-"

def test_dash_writes_to_standard_output(tmp_path, monkeypatch, capsys, trained_model_dir):
    monkeypatch.chdir(tmp_path)
    inp = _inputs(tmp_path)
    assert main(["predict", "--model", str(trained_model_dir), "--input", str(inp), "--output", "-"]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [1, 2]
    assert main(["corpus", "sample", CORPUS, "--n", "3", "--out", "-"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["labels", "export", "--labels", LABELS, "--out", "-"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 67
    assert not (tmp_path / "-").exists()


def test_predict_takes_out_like_every_other_command(tmp_path, trained_model_dir):
    out = tmp_path / "p.jsonl"
    assert main(["predict", "--model", str(trained_model_dir), "--input", str(_inputs(tmp_path)),
                 "--out", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2


def test_a_latin1_terminal_gets_utf8_json_and_readable_tables():
    """Was: `labels export` to stdout and every table holding Japanese (labels stats, corpus stats) stopped with
    a UnicodeEncodeError traceback under a Latin-1 locale; predict and corpus sample were UTF-8 already."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "latin-1"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "train.cli", *args], cwd=ROOT,  # noqa: E731
                                       capture_output=True, timeout=300, env=env)
    r = run("labels", "export", "--labels", LABELS)
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")
    assert len(json.loads(r.stdout.decode("utf-8"))) == 67
    r = run("labels", "stats", LABELS)
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr.decode("utf-8", "replace")
    assert b"\\u54c1\\u5ddd\\u533a" in r.stdout  # 品川区, escaped


# --- a model folder or file that cannot be read (permissions): a PermissionError traceback from predict, serve,
# tag-corpus, label and labels pool

def test_an_unreadable_model_is_a_model_error(trained_model_dir, tmp_path, monkeypatch, capsys):
    import shutil

    import train.store as store
    from train.errors import ModelError

    model = tmp_path / "m"
    shutil.copytree(trained_model_dir, model)

    def denied(path, *a, **k):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(store, "sha256_file", denied)
    with pytest.raises(ModelError, match=r"model\.joblib: cannot read the model file \(Permission denied\)"):
        store.load(model)
    monkeypatch.undo()

    real_is_file = Path.is_file
    monkeypatch.setattr(Path, "is_file", lambda p: denied(p) if p.name == "gikai.json" else real_is_file(p))
    assert main(["predict", "--model", str(model), "--text", "防災訓練"]) == 1
    assert "gikai.json: cannot read the manifest (Permission denied)" in _one_error_line(capsys.readouterr().err)


# --- any other error of the operating system (a folder where a file is read, a full disk, no permission)
# reaching the CLI: a Python traceback

def test_an_os_error_is_one_line(tmp_path, capsys):
    folder = tmp_path / "export"
    folder.mkdir()
    assert main(["labels", "import", str(folder), "--out", str(tmp_path / "x.jsonl"), "--labels", LABELS]) == 1
    assert str(folder) in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "x.jsonl").exists()


def test_an_os_error_names_the_file_and_the_reason(monkeypatch, capsys):
    import train.cli.labels_cmd as labels_cmd

    def full(*a, **k):
        raise OSError(28, "No space left on device", "labels/x.jsonl")

    monkeypatch.setattr(labels_cmd, "read_labels", full)
    assert main(["labels", "validate", LABELS]) == 1
    assert _one_error_line(capsys.readouterr().err) == "error: labels/x.jsonl: No space left on device"


# --- help: options without a word of help (labels pool --min-chars/--max-chars/--seed, labels add
# --municipality/--annotator); tag-corpus --model without its default; boolean options with a `--no-` twin
# nobody needs (evaluate's help squeezed to a 20-column description for it)

def _commands():
    import typer

    import train.cli as cli

    cli._register()
    root = typer.main.get_command(cli.app)

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), cmd

    return list(walk(root, []))


def test_every_option_says_what_it_does():
    missing = [f"{name} {p.opts[0]}" for name, cmd in _commands() for p in cmd.params
               if p.param_type_name == "option" and not (p.help or "").strip()]
    assert missing == []


# --- `gikai-topics --help`, a command's `--help` or a mistyped option took 1-2 s: loading the commands imported the
# whole library (scikit-learn, scipy, numpy, joblib, yaml) before typer could print a line

GROUPS = ("corpus", "labels", "vectors")


def test_every_command_has_help(capsys):
    for args in (["--help"], *([g, "--help"] for g in GROUPS), *([*name.split(), "--help"] for name, _ in _commands())):
        assert main(args) == 0, args
        out = capsys.readouterr().out
        assert "Usage: gikai-topics" in out and " ".join(args[:-1]) in out, args


def test_help_and_usage_errors_load_none_of_the_library():
    """Typer, rich and ``train.errors`` only: the library loads when a command runs (see train/cli/__init__.py)."""
    calls = [["--help"], *([g, "--help"] for g in GROUPS), *([*name.split(), "--help"] for name, _ in _commands()),
             ["predict", "--bogus"], ["train", "--jobs", "many"], ["labels", "merge"], ["no-such-command"]]
    code = (
        "import json, sys\n"
        "import train.cli\n"
        "train.cli._register()\n"
        f"codes = [train.cli.main(args) for args in {calls!r}]\n"
        "heavy = ('sklearn', 'scipy', 'numpy', 'bentoml', 'sudachipy', 'joblib', 'yaml', 'pandas', 'pyarrow',\n"
        "         'matplotlib', 'gensim', 'dask')\n"
        "library = [m for m in sys.modules if m.startswith('train.') and not m.startswith('train.cli')]\n"
        "print(json.dumps({'codes': codes, 'heavy': sorted(m for m in heavy if m in sys.modules),\n"
        "                  'library': sorted(library)}))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.splitlines()[-1])
    assert got["codes"] == [0] * (len(calls) - 4) + [2, 2, 2, 2]
    assert got["heavy"] == []
    assert got["library"] == ["train.errors", "train.paths"]


def test_flags_have_no_negative_twin():
    twins = [f"{name} {p.secondary_opts}" for name, cmd in _commands() for p in cmd.params
             if getattr(p, "secondary_opts", None)]
    assert twins == []


def test_a_model_option_states_its_default():
    for name, cmd in _commands():
        for p in cmd.params:
            if p.opts == ["--model"] and name != "evaluate":  # evaluate --model is paired with --test
                assert "gikai-topics:latest" in p.help, name


# --- a folder given where a file is read: "config file not found", "no such file" for a folder that exists

def test_a_folder_given_as_a_file_says_so(tmp_path, capsys):
    assert main(["train", "--labels", LABELS, "--config", str(tmp_path)]) == 1
    assert "is a folder; expected a TOML file" in _one_error_line(capsys.readouterr().err)
    (tmp_path / "tagged").mkdir()
    assert main(["timeline", str(tmp_path / "tagged"), "--out", str(tmp_path / "tl")]) == 1
    assert "is a folder; expected the .parquet or .jsonl file" in _one_error_line(capsys.readouterr().err)


# --- `corpus sample` whose filters match nothing (a mistyped --grep) or whose every match is excluded: exit 0,
# "wrote 0 utterance(s)" and an empty file (which `labels batch` then refuses)

def test_a_sample_of_nothing_is_an_error_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    assert main(["corpus", "sample", CORPUS, "--n", "5", "--grep", "存在しない語句", "--out", str(out)]) == 1
    assert "no utterance matches --grep" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()
    assert main(["corpus", "sample", CORPUS, "--n", "5", "--exclude", CORPUS, "--out", str(out)]) == 1
    assert "no utterance outside --exclude; nothing was written" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


# --- --jobs -1 ("one per core") worked for train and evaluate but tag-corpus refused it ("expected an integer
# >= 1"), the message evaluate gave for --jobs 0 although it took -1, and evaluate's help did not name it

def test_jobs_minus_one_means_one_per_core_everywhere(tmp_path, capsys, trained_model_dir):
    out = tmp_path / "t.jsonl"
    assert main(["tag-corpus", CORPUS, "--model", str(trained_model_dir), "--jobs", "-1", "--out", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 26
    capsys.readouterr()
    assert main(["evaluate", "--labels", LABELS, "--quick", "--jobs", "0", "--out", str(tmp_path / "r")]) == 1
    assert "or -1 (one per core)" in _one_error_line(capsys.readouterr().err)
    for name, cmd in _commands():
        for p in cmd.params:
            if p.opts == ["--jobs"]:
                assert "-1" in p.help, name


def test_labels_export_to_a_pipe_and_through_a_symlink(tmp_path):
    """`labels export` writes its two files all or none (atomic_write_all), which renamed over a pipe or a link as
    atomic_open did: `--out /dev/stdout` as root would have replaced /dev/stdout."""
    import threading

    fifo = tmp_path / "tasks.json"
    os.mkfifo(fifo)
    real = tmp_path / "configs" / "c.xml"
    real.parent.mkdir()
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "config.xml"
    link.symlink_to(real)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert main(["labels", "export", "--labels", LABELS, "--out", str(fifo), "--config-out", str(link)]) == 0
    reader.join(60)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and len(json.loads(got[0].decode("utf-8"))) == 67
    assert link.is_symlink() and real.read_text(encoding="utf-8").startswith("<View>")


def test_corpus_sample_takes_the_length_options_by_labels_pools_names_too(fixtures, tmp_path):
    """`labels pool --min-chars/--max-chars` and `corpus sample --min-len/--max-len` mean the same thing: both
    spellings work for `corpus sample`, and select the same utterances."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    src = str(fixtures / "corpus_sample.jsonl")
    assert main(["corpus", "sample", src, "--n", "50", "--min-len", "40", "--max-len", "300", "--out", str(a)]) == 0
    assert main(["corpus", "sample", src, "--n", "50", "--min-chars", "40", "--max-chars", "300", "--out", str(b)]) == 0
    rows = [json.loads(line) for line in b.read_text(encoding="utf-8").splitlines()]
    assert rows and all(40 <= len(r["text"]) <= 300 for r in rows)
    assert a.read_bytes() == b.read_bytes()


def test_a_folder_where_a_corpus_file_is_expected_is_named_a_folder(tmp_path, capsys):
    (tmp_path / "x.jsonl").mkdir()
    assert main(["labels", "batch", str(tmp_path / "x.jsonl"), "--out-dir", str(tmp_path / "b")]) != 0
    err = capsys.readouterr().err
    assert "is a folder; expected a JSONL file" in err and "Errno" not in err
    assert not (tmp_path / "b").exists()
