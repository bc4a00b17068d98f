"""The model and the CV report are functions of the label set, not of how its files are named or ordered."""

import numpy as np

from conftest import FIXTURES, fixture_label_rows, small_config, write_jsonl
from train.cache import TokenCache
from train.evaluation.cv import EvalOptions, cross_validate
from train.labeling.store import read_labels
from train.text import JapaneseAnalyzer
from train.training import fit_labels


def _reordered(tmp_path):
    """The fixture labels reversed, split over two files whose names put the second half first."""
    rows = fixture_label_rows()[::-1]
    half = len(rows) // 2
    d = tmp_path / "reordered"
    d.mkdir()
    write_jsonl(d / "b.jsonl", rows[:half])
    write_jsonl(d / "a.jsonl", rows[half:])
    return read_labels(d)[0]


def test_the_same_labels_in_another_order_train_the_same_model(tmp_path):
    original = read_labels(FIXTURES / "labels.jsonl")[0]
    shuffled = _reordered(tmp_path)
    assert shuffled.sha256 == original.sha256
    assert [e.id for e in shuffled.examples] != [e.id for e in original.examples]  # really another order
    cache = TokenCache(JapaneseAnalyzer(), None)
    a = fit_labels(original, small_config(), cache=cache)
    b = fit_labels(shuffled, small_config(), cache=cache)
    assert np.array_equal(a.thresholds, b.thresholds)  # drawn in reading order before: up to 0.40 apart
    assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    assert a.word_vectorizer.vocabulary_ == b.word_vectorizer.vocabulary_
    assert a.oof_f1 == b.oof_f1
    texts = [e.text for e in original.examples]
    assert np.array_equal(a.predict_proba(texts), b.predict_proba(texts))


def test_the_same_labels_in_another_order_give_the_same_report(tmp_path):
    opts = EvalOptions(folds=2, loao=False, baselines=False, learning_curve=False)
    cache = TokenCache(JapaneseAnalyzer(), None)
    reports = [cross_validate(labels, small_config(), opts, cache=cache)
               for labels in (read_labels(FIXTURES / "labels.jsonl")[0], _reordered(tmp_path))]
    for rep in reports:
        for fold in rep["folds"]:
            del fold["fit_seconds"]  # a clock reading, not a result
    for key in ("cv", "folds", "fold_thresholds", "pooled", "error_analysis"):
        assert reports[0][key] == reports[1][key], key
