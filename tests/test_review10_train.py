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
