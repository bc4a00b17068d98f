"""Tenth review of the labeling code: the three gaps the ninth left open (docs/RELIABILITY.md, "Tenth session").
A label must never be lost, duplicated or silently changed; bad input gets a clear error and changes nothing.
Each test failed on the code before its fix."""

import io
import json

import pytest

from conftest import FIXTURES, jsonl_ids as _ids, jsonl_rows as _rows, label_session as _session, write_jsonl
from train.cli import main
from train.corpus import read_jsonl
from train.labeling.session import run_label_session

POOL = FIXTURES / "corpus_sample.jsonl"



# --------------------------------------------------------------------------- 1. a last line without its newline

FIRST = {"id": "h1", "text": "防災訓練の実施について伺います。", "topics": ["disaster"]}
#: last lines typed by hand with a mistake in them, and no final newline
HAND_TYPED = {
    "comma before ]": '{"id": "h2", "text": "保育園の待機児童について", "topics": ["childcare",]}',
    "single quotes": "{'id': 'h2', 'text': '保育園の待機児童について', 'topics': []}",
    "missing comma": '{"id": "h2" "text": "保育園の待機児童について", "topics": []}',
    "brace twice": '{"id": "h2", "text": "保育園の待機児童について", "topics": []}}',
    "missing brace": '{"id": "h2", "text": "保育園の待機児童について", "topics": ["childcare"]',
    "last member deleted": '{"id": "h2", "text": "保育園の待機児童について", "topics": ["childcare"],',
}


def _hand_file(labels, case):
    out = labels / "hand.jsonl"
    out.write_bytes((json.dumps(FIRST, ensure_ascii=False) + "\n" + HAND_TYPED[case]).encode("utf-8"))
    return out


@pytest.mark.parametrize("case", list(HAND_TYPED))
def test_a_hand_typed_last_line_with_a_mistake_is_refused_and_kept(tmp_path, capsys, case):
    """A last line typed by hand with a JSON mistake and no final newline was taken for a torn write and deleted
    by the next `labels add` (or `label`), which said only "added"."""
    labels = tmp_path / "labels"
    labels.mkdir()
    out = _hand_file(labels, case)
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["labels", "add", "--out", str(out), "--id", "h3", "--text", "ごみの収集", "--topics",
                 "environment"]) == 1
    err = capsys.readouterr().err
    assert f"{out}:2: expected the last line to be a whole label ending in a newline, found " in err
    assert ("malformed JSON" in err) and "nothing was written" in err and "Traceback" not in err
    if case in ("missing brace", "last member deleted"):  # the label is whole up to its end: keep it, say how
        assert "the label of 'h2' (its id, text and topics whole) stopping short of its end" in err
        assert "close it with '}'" in err
    else:
        assert "not the unfinished line an interrupted write leaves" in err and "fix the line" in err
    assert out.read_bytes() == before
    # validate names the same line in the same words
    assert main(["labels", "validate", str(labels)]) == 1
    assert f"{out}:2: expected the last line to be a whole label ending in a newline" in capsys.readouterr().out
    # the other appenders refuse it too, before any work, and write nothing
    screen = io.StringIO()
    from train.errors import LabelError

    with pytest.raises(LabelError, match=f"{out.name}:2: expected the last line"):
        run_label_session([POOL], out, model="none", labels_dir=labels,
                          annotator="t", stdin=io.StringIO("y\n"), stdout=screen)
    assert screen.getvalue() == "" and out.read_bytes() == before
    batch, keys = _batch_of(tmp_path, list(read_jsonl(POOL))[:1])
    answers = tmp_path / "a.tsv"
    answers.write_text(f"{keys[0]}\tdx\n", encoding="utf-8")
    assert main(["labels", "merge", str(batch), str(answers), "--out", str(out), "--annotator", "t"]) == 1
    assert f"{out}:2: expected the last line" in capsys.readouterr().err
    assert out.read_bytes() == before


def _batch_of(tmp_path, recs, name="b"):
    pool = write_jsonl(tmp_path / f"{name}-pool.jsonl", [r.to_dict() for r in recs])
    assert main(["labels", "batch", str(pool), "--out-dir", str(tmp_path / name)]) == 0
    batch = tmp_path / name / "b-01.jsonl"
    return batch, [r["key"] for r in _rows(batch)]


#: a label line the session writes, cut by an interrupted write: in its text (inside a UTF-8 character, or between
#: two), or just after its id
SESSION_ROW = {"id": "h2", "municipality": "品川区", "date": "2024-03-01", "speaker": "山田",
               "text": "保育園の待機児童について伺います。", "topics": ["childcare"], "annotator": "a",
               "source": "label-session"}


def _torn(cut):
    line = json.dumps(SESSION_ROW, ensure_ascii=False).encode("utf-8")
    at = {"inside a character": line.index("待".encode("utf-8")) + 1,
          "between characters": line.index("待".encode("utf-8")),
          "after the id": line.index(b", ") + 2}[cut]
    return line[:at]


@pytest.mark.parametrize("cut", ["inside a character", "between characters", "after the id"])
def test_a_torn_last_line_is_removed_and_said(tmp_path, capsys, cut):
    """A torn write was dropped by the next append without a word (and one cut inside a UTF-8 character made
    `labels add` and `label` refuse the whole file as 'invalid UTF-8')."""
    labels = tmp_path / "labels"
    labels.mkdir()
    out = labels / "mine.jsonl"
    torn = _torn(cut)
    out.write_bytes((json.dumps(FIRST, ensure_ascii=False) + "\n").encode("utf-8") + torn)
    capsys.readouterr()
    assert main(["labels", "validate", str(labels)]) == 1
    said = capsys.readouterr().out
    assert f"{out}:2: expected whole labels, found an unfinished last line ({len(torn)} bytes without a newline: " \
           "the start of the label of 'h2' that an interrupted write left)" in said
    assert "the next `labels add`, `labels merge`, `labels import` or `label` to this file removes it" in said
    assert main(["labels", "add", "--out", str(out), "--id", "h3", "--text", "ごみの収集", "--topics",
                 "environment"]) == 0
    err = capsys.readouterr().err
    assert f"{out}:2: removed an unfinished last line ({len(torn)} bytes without a newline: the start of the label " \
           "of 'h2' that an interrupted write left, never a whole label)" in err and "label 'h2' again" in err
    assert f"added h3 to {out}" in err
    assert _ids(out) == ["h1", "h3"]
    assert main(["labels", "validate", str(labels)]) == 0


def test_the_session_and_merge_say_what_they_removed(tmp_path, empty_dir, capsys):
    """The label session dropped a torn last line without a word; `labels merge` and `labels import` kept it
    and put their labels after it, so `labels validate` then failed on it."""
    out = tmp_path / "labels" / "mine.jsonl"
    out.parent.mkdir()
    out.write_bytes(_torn("after the id"))
    res, screen = _session(out, "1\ny\nq\n", empty_dir)
    assert f"{out}:1: removed an unfinished last line" in screen and res.accepted == 1
    assert len(_ids(out)) == 1
    with open(out, "ab") as fh:
        fh.write(_torn("inside a character"))
    batch, keys = _batch_of(tmp_path, list(read_jsonl(POOL))[5:6])
    answers = tmp_path / "a.tsv"
    answers.write_text(f"{keys[0]}\tdx\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["labels", "merge", str(batch), str(answers), "--out", str(out), "--annotator", "t"]) == 0
    err = capsys.readouterr().err
    assert f"{out}:2: removed an unfinished last line" in err and "appended 1 labels" in err
    assert len(_ids(out)) == 2 and main(["labels", "validate", str(out.parent)]) == 0
    # a whole line that lacks only its newline is still kept (the fourth session's rule), without a note
    out.write_bytes(out.read_bytes().rstrip(b"\n"))
    tasks = tmp_path / "tasks.json"
    assert main(["labels", "export", "--labels", str(out.parent), "--out", str(tasks)]) == 0
    new = tmp_path / "new.jsonl"
    write_jsonl(new, [{"id": "n1", "text": "新しい発言の本文です。", "topics": []}])
    assert main(["labels", "export", "--labels", str(new), "--out", str(tasks)]) == 0
    capsys.readouterr()
    assert main(["labels", "import", str(tasks), "--out", str(out), "--labels", str(out.parent)]) == 0
    assert "removed" not in capsys.readouterr().err
    assert len(_ids(out)) == 3 and main(["labels", "validate", str(out.parent)]) == 0


# ------------------------------------------------------------------ 2. writers of different files in one folder

class _Hooks:
    """Pause one session (thread ``paused``) after it has checked that its utterance is unlabeled and before it
    appends; tell when another writer has come as far as the labels folder's lock (a ``flock`` on a folder) or
    has finished.  Nothing is timed: the paused session goes on once the other is blocked or done."""

    def __init__(self, monkeypatch):
        import fcntl
        import os
        import stat
        import threading

        import train.labeling.session as session

        self.checked, self.go, self.other_on = threading.Event(), threading.Event(), threading.Event()
        self.paused = None
        real_append, real_flock = session.append_line_durably, fcntl.flock

        def append(path, line, **kw):
            if threading.current_thread() is self.paused:
                self.checked.set()
                assert self.go.wait(60), "hung"
            return real_append(path, line, **kw)

        def flock(fd, op):
            if threading.current_thread() is not self.paused and stat.S_ISDIR(os.fstat(fd).st_mode):
                self.other_on.set()  # about to wait for the folder's lock
            return real_flock(fd, op)

        monkeypatch.setattr(session, "append_line_durably", append)
        monkeypatch.setattr(fcntl, "flock", flock)

    def run_paused(self, target):
        import threading

        self.paused = threading.Thread(target=target)
        self.paused.start()
        assert self.checked.wait(60), "hung"

    def release_when(self, other_done):
        """Let the paused session append once the other writer waits for the lock or has finished."""
        while not (self.other_on.wait(0.05) or other_done()):
            pass
        self.go.set()
        self.paused.join(60)


def test_two_sessions_writing_different_files_never_label_an_utterance_twice(tmp_path, monkeypatch):
    """Two `label` sessions with different --out files in one labels folder checked for a label made meanwhile
    under each one's own file lock: two accepts of one utterance in the same moment were both written (a
    duplicate id across the two files)."""
    import threading

    labels = tmp_path / "labels"
    labels.mkdir()
    a, b = labels / "a.jsonl", labels / "b.jsonl"
    screens = {}

    def session(out, keys):
        def run():
            screens[out.name] = _session(out, keys, labels)
        return run

    hooks = _Hooks(monkeypatch)
    hooks.run_paused(session(a, "1\ny\nq\n"))  # a has checked its first utterance and is about to write it
    other = threading.Thread(target=session(b, "2\ny\ny\nq\n"))
    other.start()
    hooks.release_when(lambda: not other.is_alive())
    other.join(60)
    ids = _ids(a) + _ids(b)
    assert len(ids) == len(set(ids)) == 2, ids
    first = _ids(a)[0]
    assert [r["topics"] for r in _rows(a)] == [["dx"]] and _ids(b) != [first]
    res_b, screen_b = screens["b.jsonl"]
    assert f"not saved: {first} was labeled at {a}:1 while it was on screen" in screen_b
    assert res_b.accepted == 1 and res_b.taken == 1


def test_labels_add_in_another_process_waits_for_a_session_and_refuses_its_utterance(tmp_path, monkeypatch):
    """`labels add` to another file of the folder (a real second process) checked and appended while a session
    had checked the same utterance and was writing it: both were written."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    labels = tmp_path / "labels"
    labels.mkdir()
    a, b = labels / "a.jsonl", labels / "b.jsonl"
    first = _first_in_queue(labels)  # the utterance the session will write
    text = next(r.text for r in read_jsonl(POOL) if r.id == first)
    hooks = _Hooks(monkeypatch)
    hooks.run_paused(lambda: _session(a, "1\ny\nq\n", labels))
    script = ("import fcntl, os, stat, sys\n"
              "real = fcntl.flock\n"
              "def flock(fd, op):\n"
              "    if stat.S_ISDIR(os.fstat(fd).st_mode):\n"
              "        print('at the folder lock', flush=True)\n"
              "    return real(fd, op)\n"
              "fcntl.flock = flock\n"
              "from train.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    add = subprocess.Popen([sys.executable, "-c", script, "labels", "add", "--out", str(b), "--id", first,
                            "--text", text, "--topics", "finance"], cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    said = add.stdout.readline()  # blocks until it waits for the lock, or until it ends (before the fix)
    hooks.go.set()
    hooks.paused.join(60)
    out, err = add.communicate(timeout=120)
    assert _ids(a) == [first]
    assert said == "at the folder lock\n" and add.returncode == 1, err
    assert f"{first}: already labeled ['dx'] at {a}:1, here ['finance']" in err and "nothing was written" in err
    assert not b.exists()


def _first_in_queue(labels):
    """The first utterance a session on ``labels`` shows (random order, seed 0), read by a session that quits."""
    _, screen = _session(labels / "probe.jsonl", "q\n", labels)
    return next(line[4:] for line in screen.splitlines() if line.startswith("id: "))


def test_a_refused_add_into_a_new_folder_leaves_no_folder(tmp_path, capsys):
    """The labels folder's lock is taken before the check; a folder made for it is removed again when nothing was
    written there (a refusal changes nothing)."""
    out = tmp_path / "labels" / "new" / "x.jsonl"
    assert main(["labels", "add", "--out", str(out), "--id", "n1", "--text", "防災訓練について", "--topics",
                 "privcy"]) == 1
    assert "unknown topic id(s) ['privcy']" in capsys.readouterr().err
    assert not (tmp_path / "labels").exists()
    assert main(["labels", "add", "--out", str(out), "--id", "n1", "--text", "防災訓練について", "--topics",
                 "disaster"]) == 0
    assert _ids(out) == ["n1"] and sorted(p.name for p in out.parent.iterdir()) == ["x.jsonl"]


# --------------------------------------------------------------------------- 3. labels export: both files or neither

@pytest.mark.parametrize("earlier", [True, False], ids=["over an earlier export", "new files"])
@pytest.mark.parametrize("failure", ["full disk", "Ctrl-C"])
def test_export_writes_tasks_and_config_both_or_neither(tmp_path, labels_dir, capsys, monkeypatch, failure, earlier):
    """`labels export --out T --config-out C` wrote T and C as two atomic writes: a failure between them left
    the tasks of this run beside the config of the last (or a traceback and a lone tasks file)."""
    import os
    import signal
    from pathlib import Path

    folder = tmp_path / "export"
    tasks, config = folder / "tasks.json", folder / "config.xml"
    args = ["labels", "export", "--labels", str(labels_dir), "--out", str(tasks), "--config-out", str(config)]
    if earlier:
        folder.mkdir()
        tasks.write_text("[]\n", encoding="utf-8")  # the pair of an earlier run
        config.write_text("<View/>\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in folder.iterdir()} if earlier else {}
    real = os.replace

    def replace(src, dst, **kw):  # the tasks are in place; the config's rename fails, or a Ctrl-C arrives
        if Path(dst) == config and Path(src).name.startswith(f".{config.name}."):
            if failure == "full disk":
                raise OSError(28, "No space left on device")
            os.kill(os.getpid(), signal.SIGINT)
        return real(src, dst, **kw)

    monkeypatch.setattr(os, "replace", replace)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    capsys.readouterr()
    code = main(args)
    err = capsys.readouterr().err
    monkeypatch.setattr(os, "replace", real)
    assert code == (1 if failure == "full disk" else 130) and "Traceback" not in err
    assert "nothing was written" in err
    if failure == "full disk":
        assert f"--config-out {config}: cannot write it (No space left on device)" in err
    if earlier:
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no mixed pair, no temporary file
    else:
        assert not folder.exists()  # nor the folder made for them
    assert main(args) == 0
    assert json.loads(tasks.read_text(encoding="utf-8")) and "<Choices" in config.read_text(encoding="utf-8")
    assert sorted(p.name for p in folder.iterdir()) == ["config.xml", "tasks.json"]


def test_a_label_kept_for_its_missing_end_still_counts_as_labeled(tmp_path, empty_dir):
    """A last line that holds a whole label but stops short of its end is kept (and refused by appends to its
    file) rather than removed: a session writing another file must not offer its utterance again, or it is
    labeled twice once the line is fixed."""
    first = _first_in_queue(empty_dir)
    text = next(r.text for r in read_jsonl(POOL) if r.id == first)
    labels = tmp_path / "labels"
    labels.mkdir()
    other = labels / "other.jsonl"
    other.write_text(json.dumps({"id": first, "text": text, "topics": ["dx"]}, ensure_ascii=False)[:-1],
                     encoding="utf-8")  # the closing brace deleted by a hand edit
    res, screen = _session(labels / "mine.jsonl", "y\nq\n", labels)
    assert f"id: {first}\n" not in screen and res.accepted == 1
    assert first not in _ids(labels / "mine.jsonl")


def test_nul_bytes_a_crash_left_at_the_end_are_removed_and_said(tmp_path, capsys):
    """A file grown by a write whose data never reached the disk holds NUL bytes after a crash."""
    out = tmp_path / "labels" / "mine.jsonl"
    out.parent.mkdir()
    out.write_bytes((json.dumps(FIRST, ensure_ascii=False) + "\n").encode("utf-8") + b"\0" * 40)
    capsys.readouterr()
    assert main(["labels", "add", "--out", str(out), "--id", "h3", "--text", "ごみの収集", "--topics",
                 "environment"]) == 0
    err = capsys.readouterr().err
    assert f"{out}:2: removed an unfinished last line (40 bytes without a newline" in err
    assert "no id could be read" in err
    assert _ids(out) == ["h1", "h3"]


def test_every_prefix_of_a_label_line_is_an_unfinished_write_never_a_mistake():
    """What decides between removing and refusing: each proper prefix of a JSON object (any separators, escapes,
    numbers, nesting, characters cut in two) is read as unfinished; the whole line as whole."""
    import random

    from train.jsonline import read_tail

    rnd = random.Random(10)
    chars = 'ab"\\/\n\t\u3042\u00e9\U0001F600 {}[],:0-e'

    def value(depth):
        r = rnd.random()
        if depth > 3 or r < 0.3:
            return rnd.choice([None, True, False, 0, -1, 12.5, -3e-7, 1e22, 10 ** 30,
                               "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 8)))])
        if r < 0.6:
            return [value(depth + 1) for _ in range(rnd.randint(0, 3))]
        return {"".join(rnd.choice(chars) for _ in range(rnd.randint(0, 4))): value(depth + 1)
                for _ in range(rnd.randint(0, 3))}

    for n in range(120):
        obj = {"id": f"u{n}", **{f"k{i}": value(0) for i in range(rnd.randint(0, 4))},
               **({"text": "本文", "topics": ["dx"]} if n % 2 else {})}
        line = json.dumps(obj, ensure_ascii=rnd.random() < 0.5,
                          separators=rnd.choice([None, (",", ":"), (" , ", " : ")])).encode("utf-8")
        assert read_tail(line).kind == "whole"
        for k in range(1, len(line)):
            assert read_tail(line[:k]).kind in ("cut", "unended"), line[:k]
