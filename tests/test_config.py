import pytest

from train.cli import main
from train.config import TrainConfig, load_config
from train.errors import ConfigError


def test_defaults_validate_and_roundtrip():
    cfg = TrainConfig()
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_toml_overrides(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[classifier]\nC = 2.5\n[features]\nchar_ngrams = true\n[analyzer]\nsplit_mode = "A"\n')
    cfg = load_config(p)
    assert cfg.classifier.C == 2.5 and cfg.features.char_ngrams and cfg.analyzer.split_mode == "A"


@pytest.mark.parametrize(
    "toml, expected",
    [
        ('[classifier]\nC = -1\n', "classifier.C: expected a number from 1e-06 to 1e+06, found -1"),
        ('[classifier]\nkind = "svm"\n', "classifier.kind: expected 'logreg' or 'sgd', found 'svm'"),
        ('[analyzer]\nsplit_mode = "D"\n', "analyzer.split_mode: expected one of 'A', 'B', 'C', found 'D'"),
        ('[features]\nmin_dff = 2\n', "unknown setting(s) features.min_dff"),
        ('banana = 1\n', "unknown setting 'banana'"),
        ('[features]\nwords = false\n', "at least one of words or char_ngrams"),
        ('[thresholds]\nfolds = 1\n', "thresholds.folds: expected an integer >= 2, found 1"),
        ('[thresholds]\nrule = "best"\n', "thresholds.rule: expected 'smoothed' or 'best_cut', found 'best'"),
        ("[thresholds]\nsmoothing = 0\n", "thresholds.smoothing: expected a number above 0 and at most 0.25"),
        ("[thresholds]\nsmoothing = 0.5\n", "thresholds.smoothing: expected a number above 0 and at most 0.25"),
        ("[thresholds]\nsmoothing = true\n", "thresholds.smoothing: expected a number above 0"),
        ("[classifier\n", "not valid TOML"),
        ('[classifier]\nC = inf\n', "classifier.C: expected a number from 1e-06 to 1e+06, found inf"),
        ('[features]\nvectors_weight = nan\n', "features.vectors_weight: expected a positive number"),
        ('[features]\nmin_df = true\n', "features.min_df: expected an integer >= 1, found True"),
        ('random_state = -5\n', "random_state: expected an integer from 0 to 2**32 - 1"),
        ('[thresholds]\nmin_threshold = "a"\n', "thresholds.min_threshold/max_threshold: expected numbers"),
        ('[analyzer]\nstop_words = "false"\n', "analyzer.stop_words: expected true or false, found 'false'"),
        ('[analyzer]\ndictionary = "full"\n', "needs the sudachidict-full package"),
    ],
)
def test_bad_config_messages(tmp_path, toml, expected):
    p = tmp_path / "bad.toml"
    p.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert expected in str(err.value)


def test_cli_bad_config_is_one_line(tmp_path, labels_dir, capsys):
    p = tmp_path / "bad.toml"
    p.write_text('[classifier]\nC = "high"\n')
    assert main(["train", "--labels", str(labels_dir), "--config", str(p)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "classifier.C" in err and "Traceback" not in err


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_usage_errors_are_one_line_not_a_traceback(capsys):
    """typer bundles its own click: its usage errors must still be caught (exit 2, click's message)."""
    assert main(["corpus", "sample", "--bogus"]) == 2
    assert main(["evaluate", "--folds", "abc"]) == 2
    err = capsys.readouterr().err
    assert "No such option: --bogus" in err and "Invalid value for '--folds'" in err and "Traceback" not in err


def test_min_df_beyond_the_labels_is_a_config_error(labels_dir):
    from train.training import train

    from conftest import small_config

    with pytest.raises(ConfigError, match="lower features.min_df"):
        train(labels_dir, small_config().replace(features={"min_df": 1000}), to_store=False)
