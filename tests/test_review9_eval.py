"""Ninth session: a review of the evaluation code (cv, runner, report, testset, metrics, the CLI).

Each test reproduces one finding on the tiny fixtures and fails on the code before its fix."""

import html
import json
import re

import numpy as np
import pytest

from conftest import FIXTURES, HELD_BACK, fixture_label_rows, small_config, write_jsonl
from train.cli import main
from train.evaluation import metrics
from train.evaluation.report import write_reports



def _no_analysis_config():
    return small_config().replace(features={"vectors": "none", "general_vectors": "none"})


# --------------------------------------------------------------------------- nothing to measure is not 0

def test_overall_figures_with_nothing_to_measure_are_undefined_not_zero():
    """No positives and no predictions: macro- and micro-F1 used to be 0.0, the figure of a model that got
    everything wrong, for a model that said nothing where there was nothing to say."""
    Y = np.zeros((3, 2), dtype=int)
    m = metrics.compute(Y, Y, Y.astype(float), ["a", "b"])
    assert m["overall"]["macro_f1"] is None and m["overall"]["micro_f1"] is None
    wrong = metrics.compute(Y, np.array([[1, 0], [0, 0], [0, 0]]), None, ["a", "b"])
    assert wrong["overall"]["micro_f1"] == 0.0  # a false positive is a measured mistake: F1 0
    empty = metrics.compute(np.zeros((0, 2)), np.zeros((0, 2)), None, ["a", "b"])
    assert all(empty["overall"][k] is None for k in metrics.OVERALL)
    agg = metrics.aggregate([m, metrics.compute(np.eye(2, dtype=int), np.eye(2, dtype=int), None, ["a", "b"])],
                            ["a", "b"])
    assert agg["overall"]["macro_f1"] == {"mean": 1.0, "std": 0.0}  # the fold without positives is left out


def test_a_test_file_without_positives_reports_no_macro_f1(tmp_path, trained_model_dir):
    test = write_jsonl(tmp_path / "t.jsonl", [{**r, "topics": []} for r in HELD_BACK])
    out = tmp_path / "r"
    assert main(["evaluate", "--model", str(trained_model_dir), "--test", str(test), "--out", str(out)]) == 0
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["test"]["overall"]["macro_f1"] is None
    md = (out / "report.md").read_text(encoding="utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| model on test file"))
    assert row.split(" | ")[1] == "–"


# --------------------------------------------------------------------------- held-out assemblies

def test_an_assembly_with_too_few_labels_to_hold_out_is_named_in_the_report(tmp_path):
    """Below the minimum (30 labels; 17 of 高崎市 in the committed labels) an assembly was left out of the held-out
    rows without a word, so the reader could not tell 'not held out' from 'forgotten'."""
    from train.cache import TokenCache
    from train.evaluation.cv import EvalOptions, cross_validate
    from train.labeling.store import read_labels
    from train.text import JapaneseAnalyzer

    rows = fixture_label_rows()
    tokyo = [r for r in rows if r.get("municipality") == "東京都"]
    for r in tokyo[:3]:
        r["selection"] = "uncertainty:urban (gikai-topics:test)"
    write_jsonl(tmp_path / "l.jsonl", rows)
    labels, _ = read_labels(tmp_path / "l.jsonl")
    opts = EvalOptions(folds=2, loao_min_labels=16, baselines=False, learning_curve=False, error_analysis=False,
                       loao_vectors="shared")
    said = []
    rep = cross_validate(labels, _no_analysis_config(), opts, cache=TokenCache(JapaneseAnalyzer(), None),
                         progress=said.append)
    assert list(rep["leave_one_assembly_out"]["assemblies"]) == ["品川区"]
    why = rep["not_held_out"]
    assert why["東京都"] == ("expected at least 16 labels to score, found 15 (and 3 chosen by a model's "
                            "uncertainty, which are not scored); its labels train every held-out fold")
    assert why["茨城県"].startswith("expected at least 16 labels to score, found 1;")
    assert any(s.startswith("not holding out 東京都") for s in said)
    md = write_reports(rep, tmp_path / "r").joinpath("report.md").read_text(encoding="utf-8")
    assert "Not held out: 東京都, expected at least 16 labels to score, found 15" in md
    assert "Not held out: 高崎市" in md


# --------------------------------------------------------------------------- --adapt

def test_adapt_with_no_assembly_to_adapt_to_is_refused_before_any_fit(tmp_path, capsys):
    """The fixture's assemblies are all too small to hold out at the default minimum: `--adapt 3` used to exit 0
    with a report that had no adaptation section and no word about it."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("[thresholds]\nfolds = 2\n[features]\nmin_df = 1\nvectors = \"none\"\ngeneral_vectors = \"none\"\n")
    out = tmp_path / "r"
    assert main(["evaluate", "--labels", str(FIXTURES / "labels.jsonl"), "--config", str(cfg), "--folds", "2",
                 "--skip", "learning-curve", "--skip", "baselines", "--adapt", "3", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()[-1]  # after the progress lines
    assert err.startswith("error: --adapt 3: expected a held-out assembly to refit with some of its own labels, "
                          "found none (品川区: expected at least 30 distinct utterances outside it")
    assert "東京都: expected at least 30 labels to score, found 18" in err
    assert err.endswith("label more of an assembly, or drop --adapt")
    assert "fitting" not in captured.err  # refused before the fits, not after them
    assert not out.exists()


def test_an_assembly_too_small_to_split_for_adaptation_is_named(tmp_path):
    """A held-out assembly with fewer than 4 distinct utterances has no quarter to train on: it was left out of the
    adaptation table without a word."""
    from train.cache import TokenCache
    from train.evaluation.cv import EvalOptions, cross_validate
    from train.labeling.store import read_labels
    from train.text import JapaneseAnalyzer

    # 東京都's 18 labels as 3 utterances: held out, but too few to split
    rows = fixture_label_rows()
    tokyo = [r for r in rows if r.get("municipality") == "東京都"]
    for i, r in enumerate(tokyo):
        src = tokyo[i % 3]
        r["text"], r["topics"] = src["text"], src["topics"]
    write_jsonl(tmp_path / "l.jsonl", rows)
    labels, _ = read_labels(tmp_path / "l.jsonl")
    opts = EvalOptions(folds=2, loao_min_labels=5, baselines=False, learning_curve=False, error_analysis=False,
                       loao_vectors="shared", adapt=(2,))
    rep = cross_validate(labels, _no_analysis_config(), opts, cache=TokenCache(JapaneseAnalyzer(), None))
    assert set(rep["leave_one_assembly_out"]["assemblies"]) == {"品川区", "東京都"}
    ad = rep["adaptation"]
    assert set(ad["assemblies"]) == {"品川区"}
    assert ad["not_adapted"] == {"東京都": "expected at least 4 distinct utterances to set 25% aside for training "
                                          "and score the rest, found 3 (its 18 scored labels, near-duplicates "
                                          "counted once)"}
    write_reports(rep, tmp_path / "r")
    for name in ("report.md", "report.html"):
        assert "Not adapted: 東京都, expected at least 4 distinct utterances" in \
            (tmp_path / "r" / name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- --model / --test

def test_model_with_cross_validation_options_is_refused_not_ignored(tmp_path, trained_model_dir, capsys):
    """`evaluate --model M --test T --adapt 5 --folds 3` exited 0 with a test-set report: the adaptation curve and
    the folds asked for were dropped without a word (so were --labels, --config, --skip, --quick, ...)."""
    test = write_jsonl(tmp_path / "t.jsonl", HELD_BACK)
    out = tmp_path / "r"
    assert main(["evaluate", "--model", str(trained_model_dir), "--test", str(test), "--adapt", "5", "--folds", "3",
                 "--labels", str(FIXTURES), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("error: --model: scores a saved model on --test with its own config and thresholds; expected no "
                   "cross-validation options, found --labels, --folds, --adapt: drop them (or drop --model and "
                   "--test to cross-validate)")
    assert not out.exists()
    assert main(["evaluate", "--model", str(trained_model_dir), "--test", str(test), "--out", str(out)]) == 0


def test_model_chosen_labels_in_a_test_file_are_not_scored_unless_asked(tmp_path, trained_model_dir, capsys):
    """README: 'evaluation never scores model-chosen labels'. CV kept to it, but --test scored them with the rest,
    so a council's test file with uncertainty-chosen labels in it gave figures that are not comparable."""
    rows = [dict(r) for r in HELD_BACK]
    rows[1]["selection"] = "uncertainty:welfare (gikai-topics:test)"
    test = write_jsonl(tmp_path / "t.jsonl", rows)
    out = tmp_path / "r"
    assert main(["evaluate", "--model", str(trained_model_dir), "--test", str(test), "--out", str(out)]) == 0
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["test"]["overall"]["n"] == 2 and data["model_chosen"] == {"labels": 1, "scored": False}
    for name in ("report.md", "report.html"):
        assert "1 of the file's labels were chosen for labeling by a model's uncertainty" in \
            html.unescape((out / name).read_text(encoding="utf-8"))
    assert main(["evaluate", "--model", str(trained_model_dir), "--test", str(test), "--score-model-chosen",
                 "--out", str(out)]) == 0
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["test"]["overall"]["n"] == 3 and data["model_chosen"] == {"labels": 1, "scored": True}
    only_chosen = write_jsonl(tmp_path / "c.jsonl", [rows[1]])
    capsys.readouterr()
    assert main(["evaluate", "--model", str(trained_model_dir), "--test", str(only_chosen), "--out",
                 str(tmp_path / "r2")]) == 1
    assert ("expected labels to score, found none of its 1: 1 chosen by a model's uncertainty (not scored; "
            "--score-model-chosen scores them) and 0 repeating its training utterances") in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_a_test_set_report_names_the_model_and_file_and_says_when_overlap_was_not_checked(tmp_path,
                                                                                        trained_model_dir):
    """report.md/html of `--model --test` named neither the model nor the test file (only report.json did), and
    said nothing when the model was too old to check the test labels against its training utterances
    (report.json's overlap.checked false): a reader took the figures as clean."""
    from train.evaluation.testset import evaluate_saved
    from train.inference import load_model

    test = write_jsonl(tmp_path / "t.jsonl", HELD_BACK)
    tagger = load_model(trained_model_dir)
    rep = evaluate_saved(tagger, test)
    write_reports(rep, tmp_path / "r")
    for name in ("report.md", "report.html"):
        text = html.unescape((tmp_path / "r" / name).read_text(encoding="utf-8"))
        assert f"saved model {rep['model']} on the labeled test file {test}" in text
        assert "could not be left out" not in text
    del tagger.model.training_groups  # a model saved before training utterances were recorded
    rep = evaluate_saved(tagger, test)
    assert rep["overlap"]["checked"] is False
    write_reports(rep, tmp_path / "r")
    for name in ("report.md", "report.html"):
        assert "test labels repeating them could not be left out: the figures may be too high" in \
            html.unescape((tmp_path / "r" / name).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- report.md and report.html agree

def test_every_table_of_report_md_is_in_report_html(tmp_path):
    """report.html (the one the README says to open) left out the overall figures (samples-F1, subset accuracy,
    Hamming loss), the learning curve's numbers (a plot only) and the folds: a reader of the HTML could not see
    the fold spread or quote a learning-curve figure that report.md gives."""
    from train.cache import TokenCache
    from train.evaluation.cv import EvalOptions, cross_validate
    from train.labeling.store import read_labels
    from train.text import JapaneseAnalyzer

    labels, _ = read_labels(FIXTURES / "labels.jsonl")
    opts = EvalOptions(folds=2, loao=False, baselines=False, learning_curve=True)
    rep = cross_validate(labels, _no_analysis_config(), opts, cache=TokenCache(JapaneseAnalyzer(), None))
    write_reports(rep, tmp_path / "r")
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    page = html.unescape((tmp_path / "r" / "report.html").read_text(encoding="utf-8"))
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    assert len(rows) > 25
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        as_html = "".join(f"<t[dh]>{re.escape(c)}</t[dh]>" for c in cells)
        assert re.search(as_html, page), line
    assert "<title>gikai-topics evaluation (cross validation)</title>" in page


# --------------------------------------------------------------------------- options nothing reads

def test_a_corpus_nothing_reads_is_refused(tmp_path, capsys):
    """--corpus is only read to re-learn strict held-out vectors; with --quick, --skip held-out, --loao-vectors
    shared or a config without vectors it was ignored (even a path that does not exist) and the run exited 0."""
    from train.cache import TokenCache
    from train.errors import ConfigError, InputError
    from train.evaluation.cv import EvalOptions, cross_validate
    from train.labeling.store import read_labels
    from train.text import JapaneseAnalyzer

    out = tmp_path / "r"
    for extra, found in ((["--quick"], "the held-out assemblies skipped (--skip held-out or --quick)"),
                         (["--loao-vectors", "shared"], "--loao-vectors shared")):
        assert main(["evaluate", "--labels", str(FIXTURES / "labels.jsonl"), "--folds", "2", "--corpus",
                     str(tmp_path / "missing"), *extra, "--out", str(out)]) == 1
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"error: --corpus: expected only with strict held-out vectors (the corpus they are re-learned from), "
            f"found {found}; drop --corpus")
        assert not out.exists()
    with pytest.raises(ConfigError, match="found --loao-vectors shared"):
        EvalOptions(corpus=("x",), loao_vectors="shared")
    labels, _ = read_labels(FIXTURES / "labels.jsonl")
    with pytest.raises(InputError, match='found a config without word vectors'):
        cross_validate(labels, _no_analysis_config(), EvalOptions(folds=2, corpus=(str(FIXTURES),)),
                       cache=TokenCache(JapaneseAnalyzer(), None))
    EvalOptions(corpus=("x",))  # strict held-out vectors read it: fine


def test_jobs_sizes_a_local_dask_cluster_and_is_refused_with_a_remote_one(tmp_path, monkeypatch, capsys):
    """`evaluate --dask local --jobs 8` started 2 workers whatever --jobs said (tag-corpus sizes its local cluster
    by --jobs); with a cluster's address --jobs was ignored."""
    import train.cluster
    from train.errors import InputError
    from train.evaluation.runner import run_evaluation

    asked = []

    def fake_connect(address, n_workers):
        asked.append((address, n_workers))
        raise InputError("stop here")

    monkeypatch.setattr(train.cluster, "connect", fake_connect)
    for jobs, workers in ((None, 2), (4, 4)):
        with pytest.raises(InputError, match="stop here"):
            run_evaluation(FIXTURES / "labels.jsonl", None, folds=2, quick=True, dask="local", jobs=jobs)
        assert asked.pop() == ("local", workers)
    out = tmp_path / "r"
    assert main(["evaluate", "--labels", str(FIXTURES / "labels.jsonl"), "--quick", "--dask", "tcp://127.0.0.1:1",
                 "--jobs", "3", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: --jobs 3: expected no --jobs with --dask tcp://127.0.0.1:1, whose workers run the fits (start more "
        "with `dask worker ADDRESS --nworkers N`); drop --jobs, or use --dask local --jobs N")
    assert not asked and not out.exists()
