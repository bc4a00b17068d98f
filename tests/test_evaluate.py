import json
import re

import numpy as np
import pytest

from conftest import FIXTURES, HELD_BACK, fixture_label_rows, small_config, write_jsonl
from train.cli import main
from train.evaluation.cv import EvalOptions, cross_validate
from train.evaluation.report import write_reports
from train.folds import stratified_group_folds
from train.labeling.store import label_matrix, read_labels
from train.model import TopicClassifier
from train.text import JapaneseAnalyzer


@pytest.fixture(scope="module")
def cv_report():
    labels, _ = read_labels(FIXTURES / "labels.jsonl")
    opts = EvalOptions(folds=2, loao_min_labels=15, corpus=(str(FIXTURES / "labels.jsonl"),))
    from train.cache import TokenCache

    return labels, cross_validate(labels, small_config(), opts, cache=TokenCache(JapaneseAnalyzer(), None))


def test_report_keys_and_topics(cv_report):
    labels, rep = cv_report
    for key in ("stamp", "cv", "folds", "fold_thresholds", "pooled", "baselines", "learning_curve",
                "leave_one_assembly_out", "error_analysis", "timing", "topics"):
        assert key in rep, key
    assert rep["topics"] == labels.taxonomy.ids
    assert set(rep["cv"]["per_topic"]) == set(labels.taxonomy.ids)
    for m in ("micro_f1", "macro_f1", "samples_f1", "subset_accuracy", "hamming_loss"):
        assert set(rep["cv"]["overall"][m]) == {"mean", "std"}
    for t in labels.taxonomy.ids:
        assert {"precision", "recall", "f1", "average_precision", "support"} <= set(rep["cv"]["per_topic"][t])
    assert set(rep["baselines"]) == {"topic_prior", "char_ngram"}
    assert [p["fraction"] for p in rep["learning_curve"]] == [0.125, 0.25, 0.5, 1.0]
    assert rep["stamp"]["label_set_sha256"] == labels.sha256 and rep["stamp"]["taxonomy_sha256"]
    assert rep["timing"]["cache_misses"] == len(labels)  # each text tokenized once for every fit


def test_no_group_straddles_folds():
    labels, _ = read_labels(FIXTURES / "labels.jsonl")
    groups = [e.group for e in labels.examples]
    groups[1] = groups[0]  # make two examples near-duplicates
    Y = label_matrix(labels.examples, labels.taxonomy.ids)
    for tr, te in stratified_group_folds(Y, groups, 3, seed=1):
        assert not {groups[i] for i in tr} & {groups[i] for i in te}
        assert (0 in te) == (1 in te)


def test_thresholds_come_from_training_folds_only(cv_report):
    labels, rep = cv_report
    ids = labels.taxonomy.ids
    Y = label_matrix(labels.examples, ids)
    groups = [e.group for e in labels.examples]
    an = JapaneseAnalyzer()
    tokens = [an(e.text) for e in labels.examples]
    texts = [e.text for e in labels.examples]
    for k, (tr, te) in enumerate(stratified_group_folds(Y, groups, 2, seed=0)):
        m = TopicClassifier(small_config(), ids).fit([tokens[i] for i in tr], Y[tr], texts=[texts[i] for i in tr],
                                                     groups=[groups[i] for i in tr])
        assert rep["fold_thresholds"][k] == {t: round(float(x), 4) for t, x in zip(ids, m.thresholds)}
    # and fitting on all data (test folds included) would give other thresholds
    full = TopicClassifier(small_config(), ids).fit(tokens, Y, texts=texts, groups=groups)
    assert any(rep["fold_thresholds"][0][t] != round(float(x), 4) for t, x in zip(ids, full.thresholds))


def test_leave_one_assembly_out_two_assemblies(cv_report):
    _, rep = cv_report
    loao = rep["leave_one_assembly_out"]
    assert set(loao["assemblies"]) == {"品川区", "東京都"}
    assert loao["assemblies"]["東京都"]["overall"]["n"] == 18
    assert "macro_f1" in loao["pooled"]["overall"]


def test_reports_written_and_html_self_contained(cv_report, tmp_path):
    _, rep = cv_report
    out = write_reports(rep, tmp_path / "r")
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert "_arrays" not in data and data["kind"] == "cross_validation"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 4
    assert not re.search(r"(src|href)=['\"]https?://", html)  # opens offline
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Per topic" in md and "held-out assemblies" in md




def test_cli_evaluate_quick_and_saved_model(labels_dir, tmp_path, trained_model_dir, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[thresholds]\nfolds = 2\n[features]\nmin_df = 1\n")
    out = tmp_path / "rep"
    assert main(["evaluate", "--labels", str(labels_dir), "--config", str(cfg), "--folds", "2", "--quick",
                 "--out", str(out)]) == 0
    assert "model, CV" in capsys.readouterr().out
    assert (out / "report.html").is_file()
    out2 = tmp_path / "rep2"
    # the model's own training labels are refused: their figures would be training figures
    assert main(["evaluate", "--model", str(trained_model_dir), "--test", str(FIXTURES / "labels.jsonl"),
                 "--out", str(out2)]) == 1
    assert "the very label set it was trained on" in capsys.readouterr().err
    assert not out2.exists()
    # held-back labels are scored; the ones that repeat training utterances are left out and the report says so
    test = write_jsonl(tmp_path / "test.jsonl", HELD_BACK + fixture_label_rows()[:5])
    assert main(["evaluate", "--model", str(trained_model_dir), "--test", str(test), "--out", str(out2)]) == 0
    data = json.loads((out2 / "report.json").read_text(encoding="utf-8"))
    assert data["kind"] == "test_set" and data["test"]["overall"]["n"] == len(HELD_BACK)
    assert data["overlap"] == {"test_items": len(HELD_BACK) + 5, "excluded": 5, "checked": True}
    assert "5 of the file's 8 labels repeat utterances the model was trained on" in \
        (out2 / "report.md").read_text(encoding="utf-8")
    assert "scores on the test file" not in (out2 / "report.md").read_text(encoding="utf-8")  # a plot title only
    only_seen = write_jsonl(tmp_path / "seen.jsonl", fixture_label_rows()[:5])
    assert main(["evaluate", "--model", str(trained_model_dir), "--test", str(only_seen), "--out",
                 str(tmp_path / "rep3")]) == 1
    assert "all 5 repeat utterances of its training labels" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(trained_model_dir)]) == 1  # --test missing
    assert main(["evaluate", "--labels", str(labels_dir), "--folds", "1"]) == 1


def test_evaluate_skips_the_parts_asked(labels_dir, tmp_path, capsys):
    from train.evaluation.runner import run_evaluation

    cfg = tmp_path / "c.toml"
    cfg.write_text("[thresholds]\nfolds = 2\n[features]\nmin_df = 1\n")
    rep = run_evaluation(labels_dir, cfg, folds=2, skip=["learning-curve", "held-out"])
    assert "baselines" in rep and "learning_curve" not in rep and "leave_one_assembly_out" not in rep
    out = tmp_path / "rep"
    assert main(["evaluate", "--labels", str(labels_dir), "--skip", "learning curve", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "--skip: expected one of learning-curve, baselines, held-out, found learning curve" in err
    assert not out.exists()


@pytest.mark.slow
def test_evaluate_on_dask_local_cluster_matches(labels_dir, tmp_path):
    from train.evaluation.runner import run_evaluation

    cfg = tmp_path / "c.toml"
    cfg.write_text("[thresholds]\nfolds = 2\n[features]\nmin_df = 1\n")
    local = run_evaluation(labels_dir, cfg, folds=2, quick=True)
    dask = run_evaluation(labels_dir, cfg, folds=2, quick=True, dask="local")
    assert local["cv"]["overall"]["macro_f1"] == dask["cv"]["overall"]["macro_f1"]
    assert local["fold_thresholds"] == dask["fold_thresholds"]


def test_model_chosen_labels_train_but_are_not_scored(tmp_path):
    """Labels that `labels pool` chose by a model's uncertainty train every fold but are left out
    of every test figure (CV folds, pooled, held-out assemblies) unless asked for."""
    rows = fixture_label_rows()
    for r in rows[::5]:
        r["selection"] = "uncertainty:urban (gikai-topics:test)"
    write_jsonl(tmp_path / "l.jsonl", rows)
    labels, _ = read_labels(tmp_path / "l.jsonl")
    chosen = {e.id for e in labels.examples if e.model_chosen}
    tokyo_chosen = sum(1 for e in labels.examples if e.model_chosen and e.municipality == "東京都")
    assert len(chosen) == len(rows[::5]) and tokyo_chosen
    from train.cache import TokenCache

    def run(score: bool):
        opts = EvalOptions(folds=2, loao_min_labels=12, baselines=False, learning_curve=False, error_analysis=False,
                           corpus=(str(FIXTURES / "labels.jsonl"),), score_model_chosen=score)
        return cross_validate(labels, small_config(), opts, cache=TokenCache(JapaneseAnalyzer(), None))

    rep = run(False)
    n = len(labels)
    assert rep["model_chosen"] == {"labels": len(chosen), "scored": False}
    assert sum(f["test"] for f in rep["folds"]) == n - len(chosen)
    assert all(f["train"] + f["test"] == n for f in rep["folds"])  # the chosen ones moved to training
    assert rep["pooled"]["overall"]["n"] == n - len(chosen)
    assert rep["leave_one_assembly_out"]["assemblies"]["東京都"]["overall"]["n"] == 18 - tokyo_chosen
    assert "never scored" in write_reports(rep, tmp_path / "r").joinpath("report.md").read_text(encoding="utf-8")
    rep = run(True)
    assert sum(f["test"] for f in rep["folds"]) == n and rep["pooled"]["overall"]["n"] == n
    assert rep["leave_one_assembly_out"]["assemblies"]["東京都"]["overall"]["n"] == 18
    # an assembly whose labels were all chosen by a model has nothing to be scored on: not held out (no crash);
    # a chosen copy of an ordinary label sits its fold out instead of straddling the split
    for r in rows:
        if r.get("municipality") == "東京都":
            r["selection"] = "uncertainty:urban (gikai-topics:test)"
    twin = next(r for r in rows if "selection" not in r)
    rows.append({**twin, "id": twin["id"] + "-copy", "selection": "uncertainty:dx (gikai-topics:test)"})
    write_jsonl(tmp_path / "l.jsonl", rows)
    labels, _ = read_labels(tmp_path / "l.jsonl")
    rep = run(False)
    assert "東京都" not in rep["leave_one_assembly_out"]["assemblies"]


def test_report_folder_with_other_files_is_refused_before_the_run(tmp_path, labels_dir, capsys):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    afile = tmp_path / "afile.txt"
    afile.write_text("x")
    for out, says in ((keep, "holds other files (notes.txt)"), (afile, "is a file")):
        assert main(["evaluate", "--labels", str(labels_dir), "--quick", "--folds", "2", "--out", str(out)]) == 1
        assert says in capsys.readouterr().err
    assert (keep / "notes.txt").read_text() == "mine" and afile.read_text() == "x"


def test_repeats_count_support_once_and_bad_folds_jobs_dask_are_clear(labels_dir):
    from train.errors import ConfigError, InputError
    from train.evaluation import metrics
    from train.evaluation.runner import dask_backend

    labels, _ = read_labels(labels_dir)
    Y = label_matrix(labels.examples, labels.taxonomy.ids)
    fold = metrics.compute(Y, Y.astype(bool), Y.astype(float), labels.taxonomy.ids)
    agg = metrics.aggregate([fold, fold, fold, fold], labels.taxonomy.ids, repeats=2)
    assert agg["per_topic"]["urban"]["support"] == 2 * int(Y[:, labels.taxonomy.ids.index("urban")].sum())
    assert (agg["folds"], agg["repeats"]) == (2, 2)
    with pytest.raises(InputError, match="cannot make 100 folds from"):
        stratified_group_folds(Y, [e.group for e in labels.examples], 100)
    with pytest.raises(ConfigError, match=r"--jobs: expected an integer >= 1, or -1 \(one per core\), found 0"):
        EvalOptions(n_jobs=0)
    with pytest.raises(InputError, match="--dask bogus: cannot reach the Dask scheduler"):
        with dask_backend("bogus"):
            pass


def test_an_assembly_with_almost_nothing_outside_it_is_not_held_out(tmp_path):
    """One council plus a single label without one: holding the council out would leave one training text, and
    the fit would fail after all the CV fits; it is skipped, and the report says why."""
    from train.cache import TokenCache

    rows = fixture_label_rows()
    for r in rows:
        r["municipality"] = "品川区"
    rows[0].pop("municipality")
    write_jsonl(tmp_path / "l.jsonl", rows)
    labels, _ = read_labels(tmp_path / "l.jsonl")
    opts = EvalOptions(folds=2, loao_min_labels=5, baselines=False, learning_curve=False, error_analysis=False)
    said = []
    rep = cross_validate(labels, small_config().replace(features={"vectors": "none", "general_vectors": "none"}),
                         opts, cache=TokenCache(JapaneseAnalyzer(), None), progress=said.append)
    assert "leave_one_assembly_out" not in rep
    assert rep["not_held_out"] == {"品川区": "expected at least 5 distinct utterances outside it to train on, found "
                                          "1; label more in the other assemblies to hold it out"}
    assert any(s.startswith("not holding out 品川区") for s in said)
    md = write_reports(rep, tmp_path / "r").joinpath("report.md").read_text(encoding="utf-8")
    assert "Not held out: 品川区, expected at least 5 distinct utterances outside it" in md
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "Not held out: 品川区" in html  # the HTML states the same caveats as the Markdown


def test_topics_without_positives_in_a_fold_are_left_out_of_their_means():
    """A topic absent from a fold has no recall or F1 there (None), so its fold mean is not dragged to 0.5 by a
    fold that predicted it correctly as absent; the per-topic figures then agree with macro-F1."""
    from train.evaluation import metrics

    Y1 = np.array([[1, 1], [0, 0]]); Y2 = np.array([[1, 0], [0, 0]])
    folds = [metrics.compute(Y, Y, Y.astype(float), ["a", "b"]) for Y in (Y1, Y2)]
    assert folds[1]["per_topic"]["b"] == {"precision": None, "recall": None, "f1": None, "support": 0,
                                          "predicted": 0, "average_precision": None}
    agg = metrics.aggregate(folds, ["a", "b"])
    assert agg["per_topic"]["b"]["f1"] == {"mean": 1.0, "std": 0.0}
    assert agg["overall"]["macro_f1"] == {"mean": 1.0, "std": 0.0}


def test_a_one_topic_taxonomy_is_measured_as_one_topic():
    from train.evaluation import metrics

    m = metrics.compute(np.array([[1], [0], [1]]), np.array([[1], [0], [0]]), None, ["a"])
    assert m["per_topic"]["a"]["support"] == 2 and m["per_topic"]["a"]["recall"] == 0.5
    assert m["overall"]["macro_f1"] == pytest.approx(2 / 3)


def test_learning_curve_on_few_labels_keeps_a_group_per_threshold_fold(tmp_path):
    """The smallest learning-curve subsample used to fall below the threshold folds and fail the whole run;
    the sizes reported are the ones the fits used."""
    from train.cache import TokenCache

    write_jsonl(tmp_path / "l.jsonl", fixture_label_rows()[:40])  # 1/8 of a training fold: 2 of ~20 utterances
    labels, _ = read_labels(tmp_path / "l.jsonl")
    config = small_config().replace(thresholds={"folds": 4}, features={"vectors": "none", "general_vectors": "none"})
    opts = EvalOptions(folds=2, loao=False, baselines=False, error_analysis=False)
    rep = cross_validate(labels, config, opts, cache=TokenCache(JapaneseAnalyzer(), None))
    sizes = [p["train_size"] for p in rep["learning_curve"]]
    assert sizes[0] >= 4 and sizes == sorted(sizes)


def test_a_fold_left_with_nothing_to_score_is_a_clear_error(tmp_path):
    from train.cache import TokenCache
    from train.errors import InputError

    rows = fixture_label_rows()
    for r in rows[1:]:
        r["selection"] = "uncertainty:dx (model gikai-topics:x)"
    write_jsonl(tmp_path / "l.jsonl", rows)
    labels, _ = read_labels(tmp_path / "l.jsonl")
    opts = EvalOptions(folds=2, loao=False, baselines=False, learning_curve=False, error_analysis=False)
    with pytest.raises(InputError, match="found a fold with none.*--score-model-chosen"):
        cross_validate(labels, small_config().replace(features={"vectors": "none", "general_vectors": "none"}),
                       opts, cache=TokenCache(JapaneseAnalyzer(), None))


def test_adaptation_curve_refits_held_out_folds_with_their_own_labels(tmp_path):
    """`--adapt`: each held-out assembly also trained with k of its own labels, every k scored on the same rest."""
    from train.cache import TokenCache

    labels, _ = read_labels(FIXTURES / "labels.jsonl")
    opts = EvalOptions(folds=2, loao_min_labels=15, baselines=False, learning_curve=False, error_analysis=False,
                       corpus=(str(FIXTURES / "labels.jsonl"),), adapt=(5, 1000))
    rep = cross_validate(labels, small_config(), opts, cache=TokenCache(JapaneseAnalyzer(), None))
    ad = rep["adaptation"]
    assert set(ad["assemblies"]) == set(rep["leave_one_assembly_out"]["assemblies"]) == {"品川区", "東京都"}
    for name, a in ad["assemblies"].items():
        assert a["pool"] + a["test"] == rep["leave_one_assembly_out"]["assemblies"][name]["overall"]["n"]
        sizes = [r["labels"] for r in a["rows"]]
        assert sizes == sorted({0, min(5, a["pool"]), a["pool"]})  # 1000 is cut to the pool, and only once
        assert all(0 <= r["macro_f1"] <= 1 for r in a["rows"])
    md = write_reports(rep, tmp_path / "r") / "report.md"
    text = md.read_text(encoding="utf-8")
    assert "## Adapting to a held-out assembly" in text and "(all of the pool)" in text
    assert "Adapting to a held-out assembly" in (tmp_path / "r" / "report.html").read_text(encoding="utf-8")


def test_adaptation_curve_bad_requests_are_refused_before_any_fit(tmp_path, capsys):
    from train.errors import ConfigError

    with pytest.raises(ConfigError, match="--adapt: expected label counts >= 1"):
        EvalOptions(adapt=(0,))
    with pytest.raises(ConfigError, match="drop --skip held-out"):
        EvalOptions(adapt=(500,), loao=False)
    out = tmp_path / "r"
    assert main(["evaluate", "--labels", str(FIXTURES / "labels.jsonl"), "--adapt", "500,x", "--out", str(out)]) == 1
    assert "--adapt: expected comma-separated label counts >= 1 such as 500,2000, found '500,x'" in capsys.readouterr().err
    assert main(["evaluate", "--labels", str(FIXTURES / "labels.jsonl"), "--adapt", "500", "--skip", "held-out",
                 "--out", str(out)]) == 1
    assert "drop --skip held-out" in capsys.readouterr().err
    assert not out.exists()


def test_eval_inputs_are_in_id_order_whatever_the_file_order(tmp_path):
    """evaluate and the held-out diagnostics read labels through EvalInputs: the arrays follow the ids, not the
    files, and model-chosen labels are unscored unless scoring them is asked for."""
    from train.evaluation.inputs import EvalInputs

    rows = fixture_label_rows()
    rows[0]["selection"] = "uncertainty:urban (gikai-topics:test)"
    a = EvalInputs.from_labels(read_labels(write_jsonl(tmp_path / "a.jsonl", rows))[0])
    b = EvalInputs.from_labels(read_labels(write_jsonl(tmp_path / "b.jsonl", rows[::-1]))[0])
    assert [e.id for e in a.examples] == sorted(r["id"] for r in rows) == [e.id for e in b.examples]
    assert a.texts == b.texts and a.groups == b.groups and a.assemblies == b.assemblies
    assert np.array_equal(a.Y, b.Y) and a.Y.shape == (len(rows), len(a.ids))
    chosen = [e.id for e, u in zip(a.examples, a.unscored) if u]
    assert chosen == [rows[0]["id"]] and a.chosen.sum() == 1
    assert not EvalInputs.from_labels(read_labels(tmp_path / "a.jsonl")[0], score_model_chosen=True).unscored.any()
