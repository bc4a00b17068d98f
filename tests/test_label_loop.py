"""The terminal labeling loop (`gikai-topics label`) and Label Studio import/export."""

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, write_jsonl
from train.cli import main
from train.corpus import read_jsonl
from train.inference import load_model
from train.labeling.session import Item, run_label_session
from train.labeling.store import read_labels
from train.taxonomy import load_taxonomy

POOL = FIXTURES / "corpus_sample.jsonl"


def _session(out, keys, *, labels_dir, model="none", **kw):
    screen = io.StringIO()
    res = run_label_session([POOL], out, model=model, labels_dir=labels_dir, annotator="tester",
                            stdin=io.StringIO(keys), stdout=screen, **kw)
    return res, screen.getvalue()


def _shown(screen):
    return re.findall(r"^id: (\S+)$", screen, flags=re.M)


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def empty_dir(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d


def test_toggle_accept_skip_undo_quit_then_resume(tmp_path, empty_dir):
    out = tmp_path / "mine.jsonl"
    # item 1: dx+disaster accepted; item 2 skipped; item 3 accepted empty, undone, relabeled finance; quit
    res, screen = _session(out, "1\n3\ny\ns\n\nu\na\ny\nq\n", labels_dir=empty_dir)
    shown = _shown(screen)
    assert shown[4] == shown[2] != shown[3]  # undo shows the utterance again
    assert (res.accepted, res.skipped, res.undone) == (2, 1, 1)
    rows = _rows(out)
    assert [(r["id"], r["topics"]) for r in rows] == [(shown[0], ["dx", "disaster"]), (shown[2], ["finance"])]
    first = rows[0]
    assert first["annotator"] == "tester" and first["source"] == "label-session"
    assert first["model"] is None and first["suggested"] is None
    rec = {r.id: r for r in read_jsonl(POOL)}[shown[0]]
    assert (first["text"], first["municipality"], first["date"], first["speaker"]) == (
        rec.text, rec.municipality, rec.date, rec.speaker)
    # a second session resumes: labeled items never come back, the skipped one comes first
    res2, screen2 = _session(out, "?\nzz\n0\ny\n", labels_dir=empty_dir)  # help, unknown key, then EOF = quit
    assert "toggle a topic" in screen2 and "unknown key 'zz'" in screen2
    assert _shown(screen2)[0] == shown[1] and not {shown[0], shown[2]} & set(_shown(screen2))
    assert res2.accepted == 1 and _rows(out)[-1]["topics"] == ["environment"]
    labels, problems = read_labels(out, strict=False)
    assert len(labels) == 3 and not problems


def test_uncertainty_order_suggestions_never_preselected(tmp_path, labels_dir, trained_model_dir):
    pool = list(read_jsonl(POOL))
    # already labeled: one by id, one by a near-duplicate copy of its text under another id
    extra = [{"id": pool[0].id, "text": pool[0].text, "topics": []},
             {"id": "copy-1", "text": pool[1].text + "。", "topics": ["urban"]}]
    write_jsonl(labels_dir / "extra.jsonl", extra)
    out = tmp_path / "al.jsonl"
    res, screen = _session(out, "\n" * 30, labels_dir=labels_dir, model=str(trained_model_dir))
    shown = _shown(screen)
    assert "order: uncertainty" in screen and len(shown) == len(pool) - 2 == res.accepted
    assert pool[0].id not in shown and pool[1].id not in shown
    tagger = load_model(trained_model_dir)
    by_id = {r.id: r for r in pool}
    margins = [Item(by_id[i], dict(zip(tagger.topic_ids, map(float, tagger.scores([by_id[i].text])[0]))))
               .margin(tagger.thresholds) for i in shown]
    assert margins == sorted(margins)
    rows = _rows(out)
    assert all(r["topics"] == [] for r in rows)  # accepting without toggling saves zero topics
    assert all(r["model"] == tagger.tag_name for r in rows)
    assert any(r["suggested"] for r in rows)  # suggestions were shown and recorded, not selected
    for r in rows:
        assert all(v >= tagger.thresholds[t] for t, v in r["suggested"].items())


def test_strategy_random_with_model_and_bad_options(tmp_path, empty_dir, trained_model_dir):
    from train.errors import InputError

    _, a = _session(tmp_path / "a.jsonl", "q\n", labels_dir=empty_dir, model=str(trained_model_dir),
                    strategy="random", seed=3)
    assert "order: random" in a and "model suggests" in a
    with pytest.raises(InputError, match="needs a model"):
        _session(tmp_path / "b.jsonl", "q\n", labels_dir=empty_dir, strategy="uncertainty")
    with pytest.raises(InputError, match=".jsonl label file"):
        _session(tmp_path / "b.txt", "q\n", labels_dir=empty_dir)


def test_uncertainty_with_an_empty_store_is_refused_without_first_announcing_a_random_order(tmp_path, empty_dir,
                                                                                            capsys):
    """The store is empty (no --model): `label` and `labels pool` with --strategy uncertainty said "random order,
    no suggestions" and then refused to run for want of a model."""
    out = tmp_path / "a.jsonl"
    for cmd in (["label", "--pool", str(POOL), "--out", str(out)],
                ["labels", "pool", "--pool", str(POOL), "--out", str(out)]):
        assert main([*cmd, "--strategy", "uncertainty", "--labels", str(empty_dir)]) == 1, cmd
        said = capsys.readouterr()
        assert "needs a model" in said.err and "random order" not in said.out + said.err, cmd
        assert not out.exists()
    # without --strategy, `label` still falls back to a random order and says so
    _, screen = _session(out, "q\n", labels_dir=empty_dir, model=None)
    assert "no model in the BentoML store" in screen and "order: random" in screen


def _cli():
    beside = Path(sys.executable).parent / "gikai-topics"
    return [str(beside)] if beside.exists() else [sys.executable, "-c", "from train.cli import entrypoint; entrypoint()"]


def test_cli_killed_mid_session_keeps_only_complete_labels(tmp_path, empty_dir):
    out = tmp_path / "labels" / "killed.jsonl"
    screen = open(tmp_path / "screen.txt", "w")
    proc = subprocess.Popen([*_cli(), "label", "--pool", str(POOL), "--out", str(out), "--labels", str(empty_dir),
                             "--model", "none", "--annotator", "kill-test"],
                            stdin=subprocess.PIPE, stdout=screen, stderr=subprocess.STDOUT, text=True)
    try:
        proc.stdin.write("1\n2\ny\n\nb\n")  # two accepted, a third on screen with a toggle pending
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while not (out.exists() and len(out.read_text(encoding="utf-8").splitlines()) >= 2):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "screen.txt").read_text()
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        screen.close()
    assert proc.returncode == -signal.SIGKILL
    raw = out.read_bytes()
    assert raw.endswith(b"\n")
    rows = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    assert [r["topics"] for r in rows] == [["dx", "privacy"], []]
    assert main(["labels", "validate", str(out)]) == 0


# --------------------------------------------------------------------------- Label Studio

def test_label_studio_round_trip(tmp_path, labels_dir, empty_dir):
    tasks, config = tmp_path / "tasks.json", tmp_path / "config.xml"
    assert main(["labels", "export", "--format", "label-studio", "--labels", str(labels_dir), "--out", str(tasks),
                 "--config-out", str(config)]) == 0
    data = json.loads(tasks.read_text(encoding="utf-8"))
    assert len(data) == 67 and all(isinstance(t["id"], int) and t["data"]["utt_id"] for t in data)
    choices = [t for t in data if t["annotations"][0]["result"]][0]["annotations"][0]["result"][0]
    assert (choices["from_name"], choices["to_name"], choices["type"]) == ("topics", "text", "choices")
    view = ET.fromstring(config.read_text(encoding="utf-8"))
    assert [c.get("value") for c in view.iter("Choice")] == load_taxonomy().ids
    assert view.find("Choices").get("choice") == "multiple" and view.find("Text").get("value") == "$text"

    out = tmp_path / "imported" / "ls.jsonl"
    assert main(["labels", "import", "--format", "label-studio", str(tasks), "--out", str(out),
                 "--labels", str(empty_dir)]) == 0
    original, _ = read_labels(labels_dir)
    back, _ = read_labels(out)
    assert back.sha256 == original.sha256
    key = lambda ex: (ex.id, ex.text, ex.topics, ex.municipality, ex.date, ex.speaker)  # noqa: E731
    assert sorted(map(key, back.examples)) == sorted(map(key, original.examples))
    before = out.read_bytes()  # importing again adds nothing
    assert main(["labels", "import", str(tasks), "--out", str(out), "--labels", str(empty_dir)]) == 0
    assert out.read_bytes() == before


def test_label_studio_import_refuses_bad_tasks_and_writes_nothing(tmp_path, labels_dir, empty_dir, capsys):
    tasks = tmp_path / "tasks.json"
    assert main(["labels", "export", "--labels", str(labels_dir), "--out", str(tasks)]) == 0
    data = json.loads(tasks.read_text(encoding="utf-8"))
    with_topics = [i for i, t in enumerate(data) if t["annotations"][0]["result"]]
    data[with_topics[0]]["annotations"][0]["result"][0]["value"]["choices"] = ["kids"]
    del data[0]["data"]["utt_id"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "new.jsonl"
    capsys.readouterr()
    assert main(["labels", "import", "--format", "label-studio", str(bad), "--out", str(out),
                 "--labels", str(empty_dir)]) == 1
    err = capsys.readouterr().err
    assert f"bad.json: task {with_topics[0] + 1}: unknown topic id(s) ['kids']" in err
    assert "bad.json: task 1: data.utt_id must be a non-empty string" in err
    assert not out.exists()
    # conflicts with labels already made: same id with other topics
    data = json.loads(tasks.read_text(encoding="utf-8"))
    data[with_topics[0]]["annotations"][0]["result"] = []
    bad.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    shutil.copy(labels_dir / "labels.jsonl", tmp_path / "existing.jsonl")
    before = (tmp_path / "existing.jsonl").read_bytes()
    assert main(["labels", "import", str(bad), "--out", str(tmp_path / "existing.jsonl"),
                 "--labels", str(labels_dir)]) == 1
    assert "is already labeled" in capsys.readouterr().err
    assert (tmp_path / "existing.jsonl").read_bytes() == before
    assert main(["labels", "import", "--format", "csv", str(tasks), "--out", str(out)]) == 1
    assert not out.exists() and os.listdir(tmp_path).count("new.jsonl") == 0


def test_uncertain_per_topic_round_robin():
    from train.labeling.pool import uncertain_per_topic

    scores = np.array([[0.50, 0.1], [0.45, 0.9], [0.9, 0.31], [0.1, 0.35], [0.52, 0.02]])
    picks = uncertain_per_topic(scores, np.array([0.5, 0.3]), [0, 1], 4, ["a", "b", "c", "d", "e"])
    # topic 0 takes row 0 (0.50 = its threshold), topic 1 row 2 (0.31), then 0 -> row 4, 1 -> row 3
    assert picks == [(0, 0), (2, 1), (4, 0), (3, 1)]


def test_labels_pool_batch_merge_carry_selection(tmp_path, labels_dir, trained_model_dir, capsys):
    """`labels pool` picks unlabeled utterances nearest each topic's threshold; the `selection`
    note goes through `labels batch` (never into the reading file) and `labels merge`."""
    pool = tmp_path / "pool.jsonl"
    assert main(["labels", "pool", "--pool", str(POOL), "--out", str(pool), "--model", str(trained_model_dir),
                 "--labels", str(labels_dir), "--size", "6", "--topics", "finance,urban", "--min-chars", "0",
                 "--max-chars", "100000"]) == 0
    rows = [json.loads(l) for l in pool.read_text(encoding="utf-8").splitlines()]
    labeled = {r.id for r in read_labels(labels_dir)[0].examples}
    assert len(rows) == 6 and not {r["id"] for r in rows} & labeled
    sel = [r["selection"].split(" ")[0] for r in rows]
    assert sel == ["uncertainty:finance", "uncertainty:urban"] * 3
    # the first pick for finance is the unlabeled record nearest the finance threshold
    tagger = load_model(trained_model_dir)
    cands = [r for r in read_jsonl(POOL) if r.id not in labeled]
    j = tagger.topic_ids.index("finance")
    p = np.clip(tagger.scores([r.text for r in cands])[:, j], 1e-6, 1 - 1e-6)
    t = tagger.thresholds["finance"]
    dist = np.abs(np.log(p / (1 - p)) - np.log(t / (1 - t)))
    assert rows[0]["id"] == cands[int(np.argmin(dist))].id

    assert main(["labels", "batch", str(pool), "--out-dir", str(tmp_path / "b"), "--prefix", "p"]) == 0
    reading = (tmp_path / "b" / "p-01.txt").read_text(encoding="utf-8")
    assert "uncertainty" not in reading and "finance" not in reading  # readers see the text alone
    batch = tmp_path / "b" / "p-01.jsonl"
    keys = [json.loads(l)["key"] for l in batch.read_text(encoding="utf-8").splitlines()]
    answers = tmp_path / "a.tsv"
    answers.write_text("".join(f"{k}\t\n" for k in keys), encoding="utf-8")
    out = tmp_path / "new" / "r.jsonl"
    assert main(["labels", "merge", str(batch), str(answers), "--out", str(out), "--annotator", "t"]) == 0
    merged = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert [m["selection"] for m in merged] == [r["selection"] for r in rows[:len(merged)]]


def test_labels_pool_random_and_bad_options_write_nothing(tmp_path, labels_dir, trained_model_dir, capsys):
    pool = tmp_path / "pool.jsonl"
    assert main(["labels", "pool", "--pool", str(POOL), "--out", str(pool), "--strategy", "random", "--model", "none",
                 "--labels", str(labels_dir), "--size", "3", "--min-chars", "0"]) == 0
    rows = [json.loads(l) for l in pool.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3 and {r["selection"] for r in rows} == {"random"}
    # --max-pool counts candidates of the right length (it used to sample first and drop the short ones after)
    assert main(["labels", "pool", "--pool", str(POOL), "--out", str(pool), "--strategy", "random",
                 "--labels", str(labels_dir), "--size", "6", "--max-pool", "6", "--min-chars", "150"]) == 0
    rows = [json.loads(l) for l in pool.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 6 and all(len(r["text"]) >= 150 for r in rows)
    capsys.readouterr()
    bad = tmp_path / "bad.jsonl"
    assert main(["labels", "pool", "--pool", str(POOL), "--out", str(bad), "--strategy", "random",
                 "--labels", str(tmp_path / "lables")]) == 1  # a typo must not silently exclude nothing
    assert "no such folder or file" in capsys.readouterr().err and not bad.exists()
    assert main(["labels", "pool", "--pool", str(POOL), "--out", str(tmp_path), "--strategy", "random",
                 "--labels", str(labels_dir)]) == 1
    assert "is a folder" in capsys.readouterr().err
    for extra, expected in ((["--strategy", "best"], "expected one of"),
                            (["--topics", "dx,sports"], "unknown ['sports']"),
                            (["--size", "0"], "expected a positive number"),
                            (["--min-chars", "500", "--max-chars", "100"], "min <= max"),
                            (["--assembly", "大阪市"], "no utterance of that assembly"),
                            (["--strategy", "uncertainty", "--model", "none"], "needs a model")):
        args = ["labels", "pool", "--pool", str(POOL), "--out", str(bad), "--labels", str(labels_dir),
                "--model", str(trained_model_dir), *extra]
        assert main(args) == 1, extra
        assert expected in capsys.readouterr().err, extra
        assert not bad.exists()


def test_label_studio_import_odd_json_is_an_error_not_a_traceback(tmp_path, labels_dir, empty_dir, capsys):
    tasks = tmp_path / "tasks.json"
    assert main(["labels", "export", "--labels", str(labels_dir), "--out", str(tasks)]) == 0
    data = json.loads(tasks.read_text(encoding="utf-8"))
    data[0]["data"]["text"] = "防災\ud800"
    odd = [json.dumps(data, ensure_ascii=True), "[" * 100_000, "[" + "1" * 5000 + "]"]
    out = tmp_path / "new.jsonl"
    for text, says in zip(odd, ("holds a lone surrogate", "malformed JSON", "malformed JSON")):
        bad = tmp_path / "bad.json"
        bad.write_text(text, encoding="utf-8")
        capsys.readouterr()
        assert main(["labels", "import", str(bad), "--out", str(out), "--labels", str(empty_dir)]) == 1
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err
    assert not out.exists()


def test_session_checks_out_and_labels_before_starting(tmp_path, labels_dir):
    from train.errors import InputError

    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        _session(blocker / "x.jsonl", "y\n", labels_dir=labels_dir)
    with pytest.raises(InputError, match="--labels .*: no such folder or file"):
        _session(tmp_path / "mine.jsonl", "y\n", labels_dir=tmp_path / "labx")
    assert not (tmp_path / "mine.jsonl").exists()


def test_session_survives_undecodable_keystrokes(tmp_path, labels_dir):
    """A terminal in another encoding under a strict UTF-8 locale: the bad line is an unknown key, not a crash."""
    keys = io.TextIOWrapper(io.BytesIO(b"\xa4\xa2\nq\n"), encoding="utf-8", errors="strict")
    screen = io.StringIO()
    res = run_label_session([POOL], tmp_path / "mine.jsonl", model="none", labels_dir=labels_dir,
                            annotator="tester", stdin=keys, stdout=screen)
    assert "unreadable key" in screen.getvalue() and res.accepted == 0
