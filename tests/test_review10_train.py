"""Tenth review, the training side: what a saved model records about how it was made (commit, libraries,
taxonomy, analyzer), when a model must not load, thresholds where no cut finds a positive, and a config value
that passed validation and then broke the fit."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from conftest import FIXTURES, fixture_label_rows, small_config, write_jsonl
from train.config import TrainConfig
from train.errors import ConfigError, ModelError

# ----------------------------------------------------------------- classifier.max_iter beyond a C int


@pytest.mark.parametrize("max_iter", [2**31, 2**63 - 1, 1_000_001])
def test_max_iter_beyond_what_the_solvers_take_is_refused_with_the_range(tmp_path, max_iter):
    (tmp_path / "t.toml").write_text(f"[classifier]\nmax_iter = {max_iter}\n", encoding="utf-8")
    from train.config import load_config

    with pytest.raises(ConfigError, match=r"classifier.max_iter: expected an integer from 1 to 1,000,000, "
                                          rf"found {max_iter}; use a value in that range \(the default is 2000"):
        load_config(tmp_path / "t.toml")


def test_max_iter_at_the_bound_fits(labels_dir):
    from train.training import train

    cfg = small_config().replace(classifier={"max_iter": 1_000_000})
    assert train(labels_dir, cfg, to_store=False).model.fitted
    cfg = small_config().replace(classifier={"kind": "sgd", "max_iter": 1_000_000})
    assert train(labels_dir, cfg, to_store=False).model.fitted

# ----------------------------------------------------------------- thresholds.default outside the tuned range


@pytest.mark.parametrize("toml, default", [("max_threshold = 0.4\n", 0.5), ("min_threshold = 0.6\n", 0.5),
                                           ("default = 0.97\n", 0.97)])
def test_a_default_threshold_outside_the_range_is_refused(tmp_path, toml, default):
    from train.config import load_config

    (tmp_path / "t.toml").write_text("[thresholds]\n" + toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"thresholds.default: expected a probability from min_threshold to "
                                          rf"max_threshold \(.*\), found {default}; set thresholds.default inside"):
        load_config(tmp_path / "t.toml")
    (tmp_path / "t.toml").write_text("[thresholds]\n" + toml + ("default = 0.3\n" if "max" in toml else
                                                                 "default = 0.7\n" if "min" in toml else
                                                                 "max_threshold = 0.98\n"), encoding="utf-8")
    assert load_config(tmp_path / "t.toml").thresholds.default in (0.3, 0.7, 0.97)

# ----------------------------------------------------------------- git commit of the code that trained


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture
def other_repo(tmp_path):
    """A git repository with one committed file, modified since."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "f").write_text("a\n")
    _git(repo, "add", "f")
    _git(repo, "commit", "-q", "-m", "f")
    (repo / "f").write_text("b\n")
    return repo


def test_an_installed_copy_inside_another_repository_records_no_commit(other_repo, monkeypatch):
    import train.versions as versions

    site = other_repo / "venv" / "site-packages"
    (site / "train").mkdir(parents=True)
    monkeypatch.setattr(versions, "__file__", str(site / "train" / "versions.py"))
    assert versions.git_commit() is None  # was the other repository's HEAD


def test_a_status_git_cannot_read_is_not_recorded_as_clean(other_repo, monkeypatch):
    import train.versions as versions

    (other_repo / "train").mkdir()
    monkeypatch.setattr(versions, "__file__", str(other_repo / "train" / "versions.py"))
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=other_repo, capture_output=True, text=True).stdout.strip()
    assert versions.git_commit() == head + "-dirty"
    (other_repo / ".git" / "index").write_bytes(b"damaged")  # `git status` fails, `rev-parse HEAD` still answers
    assert versions.git_commit() == head + "-unverified"  # was head: a clean commit


def test_the_commit_and_libraries_recorded_are_those_before_the_fit(labels_dir, monkeypatch):
    import train.training as training

    state = {"fitted": False}
    real_fit = training.fit_labels

    def fit_then_commit(*args, **kw):  # a commit (or checkout, or edit) in the checkout while the fit runs
        model = real_fit(*args, **kw)
        state["fitted"] = True
        return model

    monkeypatch.setattr(training, "fit_labels", fit_then_commit)
    monkeypatch.setattr(training, "git_commit", lambda: "after" if state["fitted"] else "before")
    res = training.train(labels_dir, small_config(), to_store=False)
    assert res.manifest["git_commit"] == "before"  # was "after": a commit the model was not trained from

# ----------------------------------------------------------------- library versions


def test_libraries_name_the_dictionary_of_the_analyzer_and_the_fold_splitter(labels_dir, monkeypatch):
    import importlib.util

    from train.versions import library_versions

    versions = library_versions()
    assert versions["iterative-stratification"] not in ("", "not installed")  # it draws the threshold folds
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "sudachidict_full" else real(name, *a))
    cfg = TrainConfig().replace(analyzer={"dictionary": "full"})
    import train.training as training

    captured = {}
    monkeypatch.setattr(training, "fit_labels", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("stop")))
    real_versions = training.library_versions
    monkeypatch.setattr(training, "library_versions", lambda *a: captured.setdefault("v", real_versions(*a)))
    with pytest.raises(RuntimeError, match="stop"):
        training.train(labels_dir, cfg, to_store=False)
    assert captured["v"]["sudachidict-full"] == "not installed"  # was absent: only sudachidict-core was recorded

# ----------------------------------------------------------------- the taxonomy saved is the one trained with


def test_a_taxonomy_edited_during_the_fit_is_saved_as_it_was_trained_with(labels_dir, tmp_path, monkeypatch):
    import hashlib

    import train.training as training

    taxonomy = tmp_path / "topics.yaml"
    shutil.copy(FIXTURES.parents[1] / "labels" / "topics.yaml", taxonomy)
    before = taxonomy.read_text(encoding="utf-8")
    real_fit = training.fit_labels

    def fit_then_edit(*args, **kw):  # someone edits the taxonomy (or checks out a branch) while the fit runs
        model = real_fit(*args, **kw)
        taxonomy.write_text(before.replace("id: dx", "id: digital"), encoding="utf-8")
        return model

    monkeypatch.setattr(training, "fit_labels", fit_then_edit)
    out = tmp_path / "m"
    res = training.train(labels_dir, small_config(), out=out, to_store=False, taxonomy_path=taxonomy)
    saved = (out / "taxonomy.yaml").read_text(encoding="utf-8")
    assert saved == before  # was the edited file: topic 'digital' beside a model of 'dx'
    assert hashlib.sha256(saved.encode()).hexdigest() == res.manifest["taxonomy_sha256"]
    assert "dx" in res.manifest["topics"] and "dx" in res.model.topic_ids

# ----------------------------------------------------------------- thresholds and F1 where a topic has few positives


def test_no_cut_that_finds_a_positive_gives_the_default_threshold():
    from train.fitting import best_thresholds

    Y = np.array([[1], [0], [0], [0]])
    P = np.array([[0.01], [0.9], [0.6], [0.3]])  # the positive under every cut the range allows: F1 0 for all
    assert best_thresholds(Y, P, 0.05, 0.95, 0.5)[0] == 0.5  # was 0.75: the gap under the top negative
    Y = np.array([[1], [0], [1], [0]])
    P = np.array([[0.01], [0.9], [0.6], [0.3]])
    assert best_thresholds(Y, P, 0.05, 0.95, 0.5)[0] == pytest.approx(0.45)  # a cut that finds one: unchanged


def test_a_topic_with_one_positive_group_gets_the_default_threshold(tmp_path):
    """Real fit: with one positive, the fold that holds it out learns a constant score for the topic, so the
    positive's out-of-fold score is 1e-6, under every cut."""
    from train.training import train

    rows = fixture_label_rows()
    first = True
    for r in rows:
        if "privacy" in r["topics"]:
            if not first:
                r["topics"] = [t for t in r["topics"] if t != "privacy"]
            first = False
    res = train(write_jsonl(tmp_path / "l.jsonl", rows), small_config(), to_store=False)
    j = res.model.topic_ids.index("privacy")
    assert res.manifest["label_positives"]["privacy"] == 1
    assert res.manifest["cv_summary"]["f1"]["privacy"] == 0.0
    assert res.model.thresholds[j] == 0.5  # was a cut between two negatives' scores, chosen by a tie at F1 0


def test_a_topic_without_positives_has_no_f1_and_is_left_out_of_the_macro_mean(tmp_path):
    from train.training import train

    rows = fixture_label_rows()
    for r in rows:
        r["topics"] = [t for t in r["topics"] if t != "privacy"]
    res = train(write_jsonl(tmp_path / "l.jsonl", rows), small_config(), to_store=False)
    cv = res.manifest["cv_summary"]
    assert cv["f1"]["privacy"] is None  # was 0.0, counted in the macro mean
    defined = [v for v in cv["f1"].values() if v is not None]
    assert len(defined) == 12
    assert cv["macro_f1"] == pytest.approx(round(sum(defined) / 12, 4), abs=1e-4)
    json.dumps(res.manifest, allow_nan=False)


def test_train_cli_shows_an_undefined_f1_as_a_dash(tmp_path, capsys):
    from train.cli import main

    rows = fixture_label_rows()
    for r in rows:
        r["topics"] = [t for t in r["topics"] if t != "privacy"]
    (tmp_path / "c.toml").write_text("[thresholds]\nfolds = 2\n[features]\nmin_df = 1\n", encoding="utf-8")
    assert main(["train", "--labels", str(write_jsonl(tmp_path / "l.jsonl", rows)), "--config",
                 str(tmp_path / "c.toml"), "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    row = [line for line in out.splitlines() if "privacy" in line][0]
    assert "–" in row and "0.000" not in row  # was 0.000 (and would now be a TypeError on None)

# ----------------------------------------------------------------- the analyzer key: loading when it must not


def test_the_manifest_records_the_analyzer_key(trained_model_dir):
    from train.text import AnalyzerSettings

    manifest = json.loads((trained_model_dir / "gikai.json").read_text(encoding="utf-8"))
    assert manifest["analyzer_key"] == AnalyzerSettings().key


def test_a_model_trained_with_another_stop_list_is_refused(trained_model_dir, tmp_path, monkeypatch, capsys):
    import train.text as text
    from train.cli import main
    from train.inference import load_model
    from train.serving import server_env

    model = tmp_path / "m"
    shutil.copytree(trained_model_dir, model)
    before = load_model(model).scores(["保育園の待機児童対策について伺います"])
    # this version's code analyses with another stop list than the one the model was trained with
    monkeypatch.setattr(text, "COUNCIL_STOP_WORDS", text.COUNCIL_STOP_WORDS | {"保育園"})
    with pytest.raises(ModelError, match=r"expected the analyzer key the model was trained with \(\w+\), found "
                                         r"\w+ .*retrain the model with this version"):
        load_model(model)  # was loaded: scores shifted without a word
    with pytest.raises(ModelError, match="analyzer key"):
        server_env(str(model), None, None)  # `serve` refuses before starting, not a server that is never ready
    assert main(["predict", "--model", str(model), "--text", "保育園について"]) == 1
    assert "analyzer key" in capsys.readouterr().err
    monkeypatch.undo()
    assert np.array_equal(load_model(model).scores(["保育園の待機児童対策について伺います"]), before)


def test_a_model_saved_before_the_key_was_recorded_still_loads(trained_model_dir, tmp_path):
    from train.inference import load_model

    model = tmp_path / "m"
    shutil.copytree(trained_model_dir, model)
    manifest = json.loads((model / "gikai.json").read_text(encoding="utf-8"))
    del manifest["analyzer_key"]
    (model / "gikai.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert load_model(model).tag(["防災訓練"])


# ----------------------------------------------------------------- threshold folds of a fit given no groups


def test_a_fit_given_texts_but_no_groups_keeps_repeated_texts_in_one_threshold_fold(monkeypatch):
    import train.model as model_mod
    from train.labeling.store import label_matrix, read_labels
    from train.model import TopicClassifier
    from train.text import JapaneseAnalyzer

    labels, _ = read_labels(FIXTURES / "labels.jsonl")
    texts = [ex.text for ex in labels.examples]
    texts = texts + [t.replace("。", "．") + " " for t in texts]  # each utterance twice, as a near-duplicate
    Y = np.vstack([label_matrix(labels.examples, labels.taxonomy.ids)] * 2)
    analyzer = JapaneseAnalyzer()
    seen = []
    real = model_mod.stratified_group_folds
    monkeypatch.setattr(model_mod, "stratified_group_folds", lambda *a, **k: seen.extend(real(*a, **k)) or seen)
    TopicClassifier(small_config(), labels.taxonomy.ids).fit([analyzer(t) for t in texts], Y, texts=texts)
    n = len(labels.examples)
    for tr, te in seen:
        assert not ({i % n for i in tr} & {i % n for i in te})  # was: most utterances on both sides
    with pytest.raises(ValueError, match="groups differ in length"):
        TopicClassifier(small_config(), labels.taxonomy.ids).fit([analyzer(t) for t in texts], Y, texts=texts,
                                                                groups=["a"])


# ----------------------------------------------------------------- a model other library versions cannot unpickle


def test_a_model_that_cannot_be_unpickled_names_the_versions_it_was_saved_with(trained_model_dir, tmp_path,
                                                                                monkeypatch):
    import sys

    import joblib

    from train.inference import load_model
    from train.store import sha256_file

    model = tmp_path / "m"
    shutil.copytree(trained_model_dir, model)
    # a pickle naming a module this environment lacks, as numpy 2's `numpy._core` is for numpy 1
    (tmp_path / "gone_module.py").write_text("class Part:\n    pass\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import gone_module

    joblib.dump(gone_module.Part(), model / "model.joblib")
    monkeypatch.delitem(sys.modules, "gone_module")
    (tmp_path / "gone_module.py").unlink()
    manifest = json.loads((model / "gikai.json").read_text(encoding="utf-8"))
    manifest["files"]["model.joblib"] = sha256_file(model / "model.joblib")
    manifest["libraries"]["numpy"] = "1.26.4"
    (model / "gikai.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match=r"cannot load the model \(ModuleNotFoundError: .*gone_module.*\); it was "
                                         r"saved with numpy 1\.26\.4 \(installed: \d.*\): install those versions to "
                                         r"load it, or retrain it"):
        load_model(model)  # was "…; retrain it", without the versions gikai.json holds
