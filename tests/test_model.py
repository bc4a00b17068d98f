import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import FIXTURES, ROOT, small_config
from train.cli import main
from train.errors import LabelError, ModelError
from train.fitting import best_thresholds
from train.inference import load_model
from train.labeling.store import label_matrix, read_labels
from train.model import TopicClassifier
from train.text import JapaneseAnalyzer


def test_best_thresholds_maximise_f1():
    Y = np.array([[1], [1], [0], [0], [1]])
    P = np.array([[0.9], [0.6], [0.55], [0.1], [0.7]])
    t = best_thresholds(Y, P, 0.05, 0.95, 0.5)[0]
    assert 0.55 < t <= 0.6  # cut between the last positive (0.6) and the first negative (0.55)


def test_overfit_then_reload_identical(trained_model_dir):
    labels, _ = read_labels(FIXTURES / "labels.jsonl")
    tagger = load_model(trained_model_dir)
    texts = [ex.text for ex in labels.examples]
    p1 = tagger.scores(texts)
    p2 = load_model(trained_model_dir).scores(texts)
    assert np.array_equal(p1, p2)
    Y = label_matrix(labels.examples, tagger.topic_ids)
    assert ((p1 >= tagger.model.thresholds) == Y).mean() > 0.8  # it learned its own training data
    manifest = json.loads((trained_model_dir / "gikai.json").read_text())
    for key in ("topics", "thresholds", "config", "taxonomy_sha256", "label_set_sha256", "label_count",
                "libraries", "git_commit", "trained_at", "training_seconds", "files"):
        assert key in manifest
    assert manifest["label_count"] == 67 and manifest["label_set_sha256"] == labels.sha256


def test_tag_results_and_explanations(trained_model_dir):
    tagger = load_model(trained_model_dir)
    res = tagger.tag(["保育園の待機児童について伺います。", "これより本日の会議を開きます。"], explain=3)
    assert set(res[0]) == {"topics", "scores", "terms"}
    assert set(res[0]["scores"]) == set(tagger.topic_ids)
    assert all(0 <= p <= 1 for p in res[0]["scores"].values())
    assert res[0]["topics"] == [t for t in tagger.topic_ids if res[0]["scores"][t] >= tagger.thresholds[t] - 1e-4]
    for terms in res[0]["terms"].values():
        assert all(isinstance(w, str) and c > 0 for w, c in terms) and len(terms) <= 3
    assert tagger.tag([]) == []


def test_char_ngrams_and_sgd_train(labels_dir):
    labels, _ = read_labels(labels_dir)
    for cfg in (small_config().replace(features={"char_ngrams": True}),
                small_config().replace(classifier={"kind": "sgd"})):
        m = TopicClassifier(cfg, labels.taxonomy.ids)
        texts = [e.text for e in labels.examples]
        m.fit([JapaneseAnalyzer()(t) for t in texts], label_matrix(labels.examples, labels.taxonomy.ids), texts=texts)
        assert m.predict_proba(texts[:3]).shape == (3, 13)


def test_parallel_fit_is_the_same_model(labels_dir):
    """--jobs runs the threshold folds and the final fit side by side; thresholds and probabilities do not move."""
    labels, _ = read_labels(labels_dir)
    texts = [e.text for e in labels.examples]
    tokens = [JapaneseAnalyzer()(t) for t in texts]
    Y = label_matrix(labels.examples, labels.taxonomy.ids)
    one = TopicClassifier(small_config(), labels.taxonomy.ids).fit(tokens, Y, texts=texts)
    said = []
    two = TopicClassifier(small_config(), labels.taxonomy.ids).fit(tokens, Y, texts=texts, n_jobs=2,
                                                                   progress=said.append)
    assert said == ["2 threshold folds and the final fit on 2 processes"]
    assert np.array_equal(one.thresholds, two.thresholds)
    assert np.array_equal(one.predict_proba(texts), two.predict_proba(texts))


def test_parallel_fit_errors_and_the_configs_n_jobs(labels_dir, tmp_path, isolated_state, capsys):
    """A fold's error from a worker is the one a sequential fit raises (one line, exit 1); without --jobs the
    config's n_jobs decides; -1 uses at most thresholds.folds + 1 processes."""
    from train.fitting import workers_for

    bad = tmp_path / "bad.toml"
    bad.write_text("[thresholds]\nfolds = 2\n[features]\nmin_df = 60\n")
    said = {}
    for jobs in ("1", "2"):
        assert main(["train", "--labels", str(labels_dir), "--config", str(bad), "--jobs", jobs]) == 1
        said[jobs] = capsys.readouterr().err.strip().splitlines()[-1]
    assert said["1"] == said["2"] and "lower features.min_df" in said["2"]
    cfg = tmp_path / "c.toml"
    cfg.write_text("n_jobs = 2\n[thresholds]\nfolds = 2\n[features]\nmin_df = 1\n")
    assert main(["train", "--labels", str(labels_dir), "--config", str(cfg)]) == 0
    assert "2 threshold folds and the final fit on 2 processes" in capsys.readouterr().err
    assert workers_for(-1) >= 1 and workers_for(np.int64(3)) == 3
    labels, _ = read_labels(labels_dir)
    texts = [e.text for e in labels.examples]
    said = []
    TopicClassifier(small_config(), labels.taxonomy.ids).fit(
        [JapaneseAnalyzer()(t) for t in texts], label_matrix(labels.examples, labels.taxonomy.ids), texts=texts,
        n_jobs=-1, progress=said.append)
    assert said in (["threshold fold 1/2", "threshold fold 2/2", "final fit"],  # a one-CPU machine
                    [f"2 threshold folds and the final fit on {min(workers_for(-1), 3)} processes"])


def test_cli_train_predict_store_and_dir(labels_dir, tmp_path, isolated_state, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[thresholds]\nfolds = 2\n[features]\nmin_df = 1\n")
    out = tmp_path / "model"
    assert main(["train", "--labels", str(labels_dir), "--config", str(cfg), "--out", str(out), "--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "saved gikai-topics:" in printed and "macro" in printed
    assert (out / "gikai.json").is_file() and any((isolated_state / "models" / "gikai-topics").iterdir())
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "text": "学校給食の無償化について"}\n{"id": 7, "text": "防災訓練"}\n', encoding="utf-8")
    pred = tmp_path / "pred.jsonl"
    assert main(["predict", "--model", str(out), "--input", str(inp), "--output", str(pred)]) == 0
    lines = [json.loads(l) for l in pred.read_text(encoding="utf-8").splitlines()]
    assert [l["id"] for l in lines] == ["a", 7]
    assert set(lines[0]) == {"id", "topics", "scores"} and len(lines[0]["scores"]) == 13
    assert main(["predict", "--text", "防災訓練"]) == 0  # from the BentoML store, latest
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["id"] is None


def test_predict_bad_input_writes_nothing(trained_model_dir, tmp_path, capsys):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "text": "ok"}\n{"id": "b"}\n', encoding="utf-8")
    pred = tmp_path / "pred.jsonl"
    assert main(["predict", "--model", str(trained_model_dir), "--input", str(inp), "--output", str(pred)]) == 1
    assert "in.jsonl:2" in capsys.readouterr().err and not pred.exists()
    assert main(["predict", "--model", str(trained_model_dir)]) == 1


@pytest.mark.parametrize("line, says", [
    ('{"id": "\\ud800", "text": "防災"}', "lone surrogate"),           # escaped half of a surrogate pair
    ('{"id": "a", "text": "防災\\udc00"}', "lone surrogate"),
    ('{"id": ' + "1" * 5000 + ', "text": "防災"}', "malformed JSON"),     # over Python's int-digit limit
    ('{"id": "a", "text": ' + "[" * 100_000 + "}", "malformed JSON"),     # nesting too deep
    ('{"id": NaN, "text": "防災"}', "malformed JSON"),
    ('{"id": 1e999, "text": "防災"}', "'id'"),                           # parses to infinity
    ('{"text": "防災"}', "no 'id' field"),
    ('{"id": ["a"], "text": "防災"}', "'id'"),
    ('{"id": "a", "text": "   "}', "non-empty string field 'text'"),
])
def test_predict_refuses_each_bad_line_before_writing(trained_model_dir, tmp_path, capsys, line, says):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "ok", "text": "防災訓練"}\n' + line + "\n", encoding="utf-8")
    pred = tmp_path / "pred.jsonl"
    assert main(["predict", "--model", str(trained_model_dir), "--input", str(inp), "--output", str(pred)]) == 1
    err = capsys.readouterr().err
    assert "in.jsonl:2" in err and says in err and "Traceback" not in err
    assert not pred.exists()


def test_predict_stdin_is_strict_utf8_whatever_the_locale(trained_model_dir):
    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    cmd = [sys.executable, "-c", "from train.cli import entrypoint; entrypoint()", "predict", "--model", str(trained_model_dir), "--input", "-"]
    good = subprocess.run(cmd, input='{"id": 7, "text": "避難所の備蓄"}\n'.encode("utf-8"), capture_output=True,
                          env=env, cwd=ROOT, timeout=300)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout.decode("latin-1").splitlines()[0])["id"] == 7
    bad = subprocess.run(cmd, input=b'{"id": "a\xff", "text": "x"}\n', capture_output=True, env=env, cwd=ROOT,
                         timeout=300)
    assert bad.returncode == 1 and b"<stdin>:1: invalid UTF-8" in bad.stderr and not bad.stdout


def test_predict_takes_the_input_as_a_bare_argument_dash_for_stdin(trained_model_dir, tmp_path, capsys):
    """The issue's form `predict (--text TEXT | --input FILE.jsonl | -)`: a bare `-` reads stdin (run as a process,
    so stdin is real), a bare path is the same as --input, and an input given twice is refused before any work."""
    line = '{"id": "a", "text": "避難所の備蓄について伺います。"}\n'
    cmd = [sys.executable, "-c", "from train.cli import entrypoint; entrypoint()", "predict", "--model",
           str(trained_model_dir), "-"]
    done = subprocess.run(cmd, input=line.encode("utf-8"), capture_output=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    piped = json.loads(done.stdout.decode("utf-8"))
    inp = tmp_path / "in.jsonl"
    inp.write_text(line, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", str(trained_model_dir), str(inp), "--output", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == piped and piped["id"] == "a"
    capsys.readouterr()
    out.unlink()
    assert main(["predict", "--model", str(trained_model_dir), "保育園の待機児童対策について"]) == 1
    assert "no such input file; expected a JSONL file" in capsys.readouterr().err  # and how to tag a text: --text
    for args in ([str(inp), "--input", str(inp)], ["--text", "防災", "-"]):
        assert main(["predict", "--model", str(trained_model_dir), *args, "--output", str(out)]) == 1
        err = capsys.readouterr().err
        assert ("the input is given twice" in err or "give exactly one of --text" in err) and err.count("\n") == 1
        assert not out.exists()


def test_predict_bad_output_path_and_empty_text_refused_before_work(trained_model_dir, tmp_path, capsys):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "text": "防災"}\n', encoding="utf-8")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out, says in ((tmp_path, "is a folder"), (blocker / "pred.jsonl", "is a file")):
        assert main(["predict", "--model", str(trained_model_dir), "--input", str(inp), "--output", str(out)]) == 1
        assert says in capsys.readouterr().err
    assert main(["predict", "--model", str(trained_model_dir), "--text", "  "]) == 1
    assert "non-empty text" in capsys.readouterr().err


def test_bad_labels_refused(tmp_path):
    d = tmp_path / "l"
    d.mkdir()
    (d / "a.jsonl").write_text('{"id": "1", "text": "x", "topics": ["nope"]}\n', encoding="utf-8")
    with pytest.raises(LabelError, match="unknown topic id"):
        from train.training import train
        train(d, small_config(), to_store=False)
    assert main(["train", "--labels", str(d)]) == 1


def test_missing_model_message(capsys):
    assert main(["predict", "--text", "x", "--model", "nothing-here"]) == 1
    assert "not found in the BentoML store" in capsys.readouterr().err


def test_tampered_model_refused(trained_model_dir, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained_model_dir, bad)
    data = bytearray((bad / "model.joblib").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "model.joblib").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the manifest"):
        load_model(bad)
    (bad / "model.joblib").write_bytes(bytes(data[:100]))  # truncated
    with pytest.raises(ModelError, match="refusing to load"):
        load_model(bad)


def test_damaged_manifest_shapes_refused(trained_model_dir, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained_model_dir, bad)
    for manifest in ("[1, 2]", '{"format_version": 1, "files": ["a"]}', '{"files": {"model.joblib": 5}}'):
        (bad / "gikai.json").write_text(manifest, encoding="utf-8")
        with pytest.raises(ModelError, match="damaged manifest"):
            load_model(bad)


def test_bad_out_or_name_refused_before_the_fit(labels_dir, tmp_path, isolated_state, monkeypatch):
    """A bad --out or --name must cost no fit and leave no version in the store."""
    import train.training as training

    monkeypatch.setattr(training, "fit_labels", lambda *a, **k: pytest.fail("fitted before checking --out"))
    afile = tmp_path / "afile"
    afile.write_text("x")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    from train.errors import GikaiError

    for out, says in ((afile, "is a file"), (afile / "sub", "is a file"), (other, "not a gikai-topics model")):
        with pytest.raises(GikaiError, match=says):
            training.train(labels_dir, small_config(), out=out)
    with pytest.raises(ModelError, match="at most 63"):
        training.train(labels_dir, small_config(), name="a" * 70)
    for jobs in (0, -2, 1.5):
        with pytest.raises(GikaiError, match=r"n_jobs \(--jobs\): expected a positive integer or -1"):
            training.train(labels_dir, small_config(), n_jobs=jobs)
    assert (other / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_train_leaves_no_trace(signum, labels_dir, tmp_path, isolated_state):
    """SIGINT or SIGTERM in the middle of a fit: neither the store nor --out gets anything."""
    out = tmp_path / "model"
    code = (
        "import time, train.model as m\n"
        "orig = m.TopicClassifier.fit\n"
        "def slow(self, *a, **k):\n"
        "    r = orig(self, *a, **k)\n"
        "    print('FITTED', flush=True); time.sleep(30); return r\n"
        "m.TopicClassifier.fit = slow\n"
        "from train.cli import main\n"
        f"raise SystemExit(main(['train', '--labels', {str(labels_dir)!r}, '--out', {str(out)!r}]))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ}, cwd=ROOT, text=True)
    deadline = time.time() + 120
    line = ""
    while time.time() < deadline and "FITTED" not in line:
        line = proc.stdout.readline()
    proc.send_signal(signum)
    proc.wait(30)
    assert proc.returncode == 130, proc.stderr.read()
    assert not out.exists() and not list(tmp_path.glob(".model.*"))
    models = isolated_state / "models"
    assert not models.exists() or not any(p for p in models.rglob("model.joblib"))


def test_interrupt_during_store_copy_stores_nothing(labels_dir, isolated_state):
    """SIGINT while BentoML copies the finished model into the store (the copy is held against
    signals): the new version is removed again and `latest` still names the previous model."""
    def run(interrupt: bool) -> subprocess.CompletedProcess:
        code = (
            "import os, shutil, signal\n"
            "orig = shutil.copytree\n"
            "def copy_and_interrupt(*a, **k):\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n"
            "    return orig(*a, **k)\n"
            f"if {interrupt}: shutil.copytree = copy_and_interrupt\n"
            "from train.cli import main\n"
            f"raise SystemExit(main(['train', '--labels', {str(labels_dir)!r}]))\n"
        )
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ}, timeout=300)

    first = run(False)
    assert first.returncode == 0, first.stderr
    store = isolated_state / "models" / "gikai-topics"
    versions = sorted(p.name for p in store.iterdir() if p.is_dir())
    latest = (store / "latest").read_text()
    assert versions == [latest]
    second = run(True)
    assert second.returncode == 130, second.stderr
    assert sorted(p.name for p in store.iterdir() if p.is_dir()) == versions
    assert (store / "latest").read_text() == latest
    assert load_model("gikai-topics").info()["model"].endswith(latest)


def test_signals_held_delivers_after_the_block_and_leaves_ignored_ones_alone():
    from train.signals import signals_held

    original = signal.getsignal(signal.SIGTERM)
    seen = []
    try:
        signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
        with signals_held() as arrived:
            signal.raise_signal(signal.SIGTERM)
            assert arrived() and seen == []  # held back during the block
        assert seen == [signal.SIGTERM]  # delivered to the previous handler afterwards
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with signals_held() as arrived:
            signal.raise_signal(signal.SIGTERM)
            assert not arrived()  # an ignored signal is not "an interrupt" to undo the save for
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, original)


def test_replacing_a_directory_is_not_stopped_between_its_two_renames(tmp_path, monkeypatch):
    """atomic_dir moves the old directory aside and the new one in; a Ctrl-C between the two renames left no
    model at the path (only a hidden .NAME.old).  The signal is now delivered after both."""
    import os
    import signal

    from train.atomic import atomic_dir

    target = tmp_path / "model"
    target.mkdir()
    (target / "v").write_text("old", encoding="utf-8")
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        real_replace(src, dst)
        if len(calls) == 1:  # right after the old directory moved aside
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(target) as tmp:
            (tmp / "v").write_text("new", encoding="utf-8")
    assert (target / "v").read_text(encoding="utf-8") == "new" and len(calls) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # nothing left aside
