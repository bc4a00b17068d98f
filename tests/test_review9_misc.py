"""Ninth session: small findings of the documentation and evaluation reviews."""

import pytest

from train.errors import ModelError
from train.store import resolve


@pytest.mark.parametrize("name", ["model.joblib", "sub/gikai.json"])
def test_a_file_given_as_the_model_says_it_is_a_file(tmp_path, monkeypatch, name):
    """Was: "no such model directory" for a file that exists, or (no slash) a BentoML tag lookup of it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError, match="expected a model directory .* found a file; pass the folder"):
        resolve(name)


def test_a_missing_folder_is_still_no_such_model_directory(tmp_path):
    with pytest.raises(ModelError, match="no such model directory"):
        resolve(str(tmp_path / "nope"))
