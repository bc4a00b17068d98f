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


def test_an_unknown_topic_names_the_ids_of_the_taxonomy_in_force(tmp_path):
    """Was: "known ids are listed in labels/topics.yaml", also when a model's own taxonomy was the one checked."""
    from train.errors import LabelError
    from train.labeling.store import read_labels
    from train.taxonomy import load_taxonomy

    f = tmp_path / "t.jsonl"
    f.write_text('{"id": "a", "text": "防災訓練について", "topics": ["bousai"]}\n', encoding="utf-8")
    with pytest.raises(LabelError) as info:
        read_labels(f, load_taxonomy())
    assert "unknown topic id(s) ['bousai']; expected ids of the taxonomy: administration, childcare" in str(info.value)
    assert "topics.yaml" not in str(info.value)
