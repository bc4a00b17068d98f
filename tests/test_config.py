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
        ('[classifier]\nC = -1\n', "classifier.C: expected a positive number, found -1"),
        ('[classifier]\nkind = "svm"\n', "classifier.kind: expected 'logreg' or 'sgd', found 'svm'"),
        ('[analyzer]\nsplit_mode = "D"\n', "split_mode: expected one of 'A', 'B', 'C', found 'D'"),
        ('[features]\nmin_dff = 2\n', "unknown setting(s) features.min_dff"),
        ('banana = 1\n', "unknown setting 'banana'"),
        ('[features]\nwords = false\n', "at least one of words or char_ngrams"),
        ('[thresholds]\nfolds = 1\n', "thresholds.folds: expected an integer >= 2, found 1"),
        ("[classifier\n", "not valid TOML"),
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
