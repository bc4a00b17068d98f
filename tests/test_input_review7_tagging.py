"""The seventh review's findings on tag-corpus, predict, corpus sample, the corpus readers and timeline."""

import json
import os

import pytest

from conftest import write_jsonl
from train import tagging
from train.cli import main
from train.errors import InputError


@pytest.fixture
def corpus(fixtures, tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "a.jsonl").write_bytes((fixtures / "corpus_sample.jsonl").read_bytes())
    (d / "seed.txt").write_bytes((fixtures / "seed_sample.txt").read_bytes())
    return d


def _tag(inputs, out, model, **kw):
    return tagging.tag_corpus(inputs, out, model=str(model), jobs=1, **kw)


# --------------------------------------------------------------------------- 1, 7: an output that is an input


def test_predict_output_equal_to_input_is_refused_and_input_kept(trained_model_dir, tmp_path, capsys):
    p = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "text": "防災訓練"}])
    before = p.read_bytes()
    link = tmp_path / "link.jsonl"
    os.link(p, link)  # the same file under another name
    for out in (p, link):
        assert main(["predict", "--model", str(trained_model_dir), "--input", str(p), "--output", str(out)]) == 1
        err = capsys.readouterr().err
        assert "is the input" in err and "Traceback" not in err
    assert p.read_bytes() == before


def test_corpus_sample_out_equal_to_an_input_or_exclude_is_refused(fixtures, tmp_path, capsys):
    c = tmp_path / "c.jsonl"
    c.write_bytes((fixtures / "corpus_sample.jsonl").read_bytes())
    pick = write_jsonl(tmp_path / "pick.jsonl", [{"id": "x", "text": "防災"}])
    before = c.read_bytes(), pick.read_bytes()
    assert main(["corpus", "sample", str(c), "--n", "2", "--out", str(c)]) == 1
    assert "is the input" in capsys.readouterr().err
    assert main(["corpus", "sample", str(c), "--n", "2", "--exclude", str(pick), "--out", str(pick)]) == 1
    assert "is the input" in capsys.readouterr().err
    assert (c.read_bytes(), pick.read_bytes()) == before
    d = tmp_path / "d"
    d.mkdir()
    (d / "c.jsonl").write_bytes(before[0])
    assert main(["corpus", "sample", str(d), "--n", "2", "--out", str(d / "sub" / "s.jsonl")]) == 1
    assert "inside the input folder" in capsys.readouterr().err and not (d / "sub").exists()
    assert main(["corpus", "sample", str(c), "--n", "2", "--out", str(tmp_path / "s.jsonl")]) == 0


def test_tag_corpus_out_equal_to_input_is_refused_before_any_work(fixtures, tmp_path, trained_model_dir):
    inp = tmp_path / "in.jsonl"
    inp.write_bytes((fixtures / "corpus_sample.jsonl").read_bytes())
    before = inp.read_bytes()
    with pytest.raises(InputError, match="is the input"):
        _tag([inp], inp, trained_model_dir)
    assert inp.read_bytes() == before and not (tmp_path / "in.jsonl.parts").exists()


def test_tag_corpus_out_inside_an_input_folder_is_refused(corpus, tmp_path, trained_model_dir):
    for out in (corpus / "tagged.jsonl", corpus / "tagged.parquet", corpus / "deeper" / "t.jsonl"):
        with pytest.raises(InputError, match="inside the input folder"):
            _tag([corpus], out, trained_model_dir)
    assert sorted(p.name for p in corpus.iterdir()) == ["a.jsonl", "seed.txt"]  # no parts, no output


def test_tag_corpus_input_inside_its_own_parts_folder_is_refused(fixtures, tmp_path, trained_model_dir):
    parts = tmp_path / "t.jsonl.parts"
    parts.mkdir()
    (parts / "a.jsonl").write_bytes((fixtures / "corpus_sample.jsonl").read_bytes())
    for given in (parts, parts / "a.jsonl"):
        with pytest.raises(InputError, match="work folder"):
            _tag([given], tmp_path / "t.jsonl", trained_model_dir, restart=True)  # --restart would delete it
    assert (parts / "a.jsonl").is_file()
