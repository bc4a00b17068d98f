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


# --------------------------------------------------------------------------- 2: resume and another model in the folder


def _other_model(src, dst):
    """A copy of the model whose files differ (an edited taxonomy.yaml, its digest updated): another model to
    the fingerprint, though it tags the same way."""
    import shutil

    from train.store import sha256_file

    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    with open(dst / "taxonomy.yaml", "a", encoding="utf-8") as fh:
        fh.write("\n# retrained\n")
    manifest = json.loads((dst / "gikai.json").read_text(encoding="utf-8"))
    manifest["files"]["taxonomy.yaml"] = sha256_file(dst / "taxonomy.yaml")
    (dst / "gikai.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest["files"]


def test_resume_refuses_parts_of_another_model_in_the_same_folder(corpus, tmp_path, trained_model_dir,
                                                                    monkeypatch):
    import shutil

    m = tmp_path / "m"
    shutil.copytree(trained_model_dir, m)
    out = tmp_path / "t.jsonl"
    real_pool = tagging._LocalPool

    class Interrupting(real_pool):
        n = 0

        def submit(self, *args):
            Interrupting.n += 1
            if Interrupting.n == 3:
                raise KeyboardInterrupt
            return super().submit(*args)

    monkeypatch.setattr(tagging, "_LocalPool", Interrupting)
    with pytest.raises(KeyboardInterrupt):
        _tag([corpus], out, m, chunk_size=5)
    monkeypatch.setattr(tagging, "_LocalPool", real_pool)
    assert any((tmp_path / "t.jsonl.parts").glob("part-*"))
    _other_model(trained_model_dir, m)  # the folder now holds another model
    with pytest.raises(InputError, match="--restart"):
        _tag([corpus], out, m, chunk_size=5)
    assert _tag([corpus], out, m, chunk_size=5, restart=True).chunks_reused == 0


def test_parquet_metadata_names_the_model_files_and_a_replaced_folder_is_reloaded(corpus, tmp_path,
                                                                                   trained_model_dir):
    import shutil

    import pyarrow.parquet as pq

    m = tmp_path / "m"
    shutil.copytree(trained_model_dir, m)
    first = json.loads((m / "gikai.json").read_text(encoding="utf-8"))["files"]
    _tag([corpus], tmp_path / "a.parquet", m)
    files = _other_model(trained_model_dir, m)  # same path, same process: the cached model must not be reused
    _tag([corpus], tmp_path / "b.parquet", m)
    meta_a, meta_b = (pq.read_schema(tmp_path / n).metadata for n in ("a.parquet", "b.parquet"))
    assert meta_a[b"gikai_topics_model"].decode() == str(m)  # the key kept, as before
    assert json.loads(meta_a[b"gikai_topics_model_files"]) == first
    assert json.loads(meta_b[b"gikai_topics_model_files"]) == files != first


def test_a_worker_refuses_a_model_other_than_the_runs(tmp_path, trained_model_dir):
    from train.errors import ModelError
    from train.store import files_digest

    rows = [{"id": "a", "text": "防災訓練"}]
    with pytest.raises(ModelError, match="replaced while tagging"):
        tagging.tag_chunk(str(trained_model_dir), rows, str(tmp_path / "p.jsonl"), "jsonl", "0" * 64)
    assert not (tmp_path / "p.jsonl").exists()
    manifest = json.loads((trained_model_dir / "gikai.json").read_text(encoding="utf-8"))
    assert tagging.tag_chunk(str(trained_model_dir), rows, str(tmp_path / "p.jsonl"), "jsonl",
                             files_digest(manifest)) == 1
