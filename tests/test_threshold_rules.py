"""The threshold rules (``thresholds.rule``): the smoothed rule by its definition, the config that chooses it,
and models saved before it existed (bad values of its keys: tests/test_config.py, with the other settings)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from train.config import ThresholdConfig, TrainConfig, load_config
from train.fitting import best_thresholds, smoothed_thresholds, tuned_thresholds


def _f1(y, pred):
    return 2 * (pred & y).sum() / (pred.sum() + y.sum())


def test_separated_scores_give_the_middle_of_the_perfect_range():
    P = np.r_[np.linspace(0.0, 0.30, 40), np.linspace(0.70, 1.0, 10)][:, None]
    Y = np.r_[np.zeros(40), np.ones(10)][:, None].astype(int)
    t = smoothed_thresholds(Y, P, 0.05, 0.95, 0.5, 0.05)[0]
    assert 0.30 < t <= 0.70 and _f1(Y[:, 0] == 1, P[:, 0] >= t) == 1.0
    assert t == pytest.approx(0.50, abs=0.011)  # the middle of the thresholds whose whole window scores 1


@pytest.mark.parametrize("seed", range(4))
def test_smoothed_thresholds_maximise_the_window_average_of_f1(seed):
    """Against the definition computed the slow way (every grid threshold, every score), ties in scores included."""
    rng = np.random.default_rng(seed)
    n, lo, hi, window = 300, 0.05, 0.95, 0.05
    Y = (rng.random((n, 3)) < [0.1, 0.3, 0.5]).astype(int)
    P = np.round(np.clip(0.35 * Y + rng.normal(0.3, 0.2, (n, 3)), 0, 1), 2)  # rounded: many equal scores
    got = smoothed_thresholds(Y, P, lo, hi, 0.5, window)
    grid = np.linspace(lo, hi, 91)
    for j in range(3):
        f1 = np.array([_f1(Y[:, j] == 1, P[:, j] >= t) for t in grid])
        avg = np.array([np.mean([f1[min(max(i + d, 0), 90)] for d in range(-5, 6)]) for i in range(91)])
        i = int(np.flatnonzero(np.isclose(grid, got[j]))[0])
        assert avg[i] == pytest.approx(avg.max())


def test_columns_without_a_threshold_to_tune_get_the_default():
    P = np.array([[0.9, 0.02], [0.1, 0.01], [0.2, 0.03]])
    Y = np.array([[0, 1], [0, 0], [0, 0]])  # column 0: no positive; column 1: its positive under min_threshold
    assert smoothed_thresholds(Y, P, 0.05, 0.95, 0.3, 0.05).tolist() == [0.3, 0.3]


def test_tuned_thresholds_follow_the_configured_rule():
    rng = np.random.default_rng(7)
    Y = (rng.random((200, 2)) < 0.3).astype(int)
    P = np.clip(0.4 * Y + rng.random((200, 2)) * 0.6, 0, 1)
    cut = ThresholdConfig(rule="best_cut")
    assert np.array_equal(tuned_thresholds(Y, P, cut), best_thresholds(Y, P, 0.05, 0.95, 0.5))
    smooth = ThresholdConfig(smoothing=0.1)
    assert np.array_equal(tuned_thresholds(Y, P, smooth), smoothed_thresholds(Y, P, 0.05, 0.95, 0.5, 0.1))
    assert TrainConfig().thresholds.rule == "smoothed"


def test_a_config_file_chooses_the_best_cut(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text('[thresholds]\nrule = "best_cut"\n', encoding="utf-8")
    assert load_config(path).thresholds.rule == "best_cut"


def test_models_saved_before_the_rule_existed_read_as_best_cut():
    """A pickled config from before the twenty-first session has no rule: its thresholds were the best cut's."""
    old = ThresholdConfig.__new__(ThresholdConfig)
    old.__setstate__({"folds": 4, "min_threshold": 0.05, "max_threshold": 0.95, "default": 0.5})
    assert (old.rule, old.smoothing) == ("best_cut", 0.05)
    new = pickle.loads(pickle.dumps(ThresholdConfig(smoothing=0.1)))
    assert (new.rule, new.smoothing) == ("smoothed", 0.1)
