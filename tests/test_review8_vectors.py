"""Review 8: word vectors (files, the general build) and inter-annotator agreement."""

import json

import numpy as np
import pytest

from conftest import FIXTURES, small_config
from train.cli import main
from train.errors import ConfigError
from train.labeling.store import label_matrix, read_labels
from train.model import TopicClassifier
from train.text import AnalyzerSettings, JapaneseAnalyzer
from train.vectors import load_vectors


def _vectors_file(path, words, vectors, meta=None):
    """A vectors .npz laid out as WordVectors.save writes it, with any content."""
    meta = json.dumps(meta if meta is not None else {"format": 1, "analyzer_key": AnalyzerSettings().key})
    np.savez_compressed(path, words=np.asarray(words, dtype=str), vectors=np.asarray(vectors, dtype=np.float16),
                        meta=np.asarray(meta))
    return path


@pytest.fixture(scope="module")
def fixture_tokens():
    labels, _ = read_labels(FIXTURES / "labels.jsonl")
    analyzer = JapaneseAnalyzer()
    return labels, [analyzer(ex.text) for ex in labels.examples]


@pytest.mark.parametrize("case, found", [
    ("meta-list", "meta record to be a JSON object, found list"),
    ("nan", "found NaN or infinite values"),
    ("inf", "found NaN or infinite values"),
    ("dim0", "found vectors of 0 dimensions"),
    ("no-words", "found no words"),
    ("duplicate", "found 1 word.s. listed twice"),
])
def test_malformed_vectors_file_is_a_clear_error_not_a_traceback_or_wrong_features(tmp_path, fixture_tokens,
                                                                                   case, found):
    labels, tokens = fixture_tokens
    words = sorted({w for t in tokens for w in t})
    vectors = np.random.default_rng(0).normal(size=(len(words), 8))
    meta = None
    if case == "meta-list":
        meta = [1]
    elif case == "nan":
        vectors[3] = np.nan
    elif case == "inf":
        vectors[3, 1] = np.inf
    elif case == "dim0":
        vectors = np.zeros((len(words), 0))
    elif case == "no-words":
        words, vectors = [], np.zeros((0, 8))
    elif case == "duplicate":
        words = words[:-1] + [words[0]]
    path = _vectors_file(tmp_path / f"{case}.npz", words, vectors, meta)
    with pytest.raises(ConfigError, match=found):
        load_vectors(path)
    # before: NaN reached the fit as sklearn's ValueError; no words / 0 dimensions / a shadowed row trained silently
    cfg = small_config().replace(features={"vectors": str(path), "general_vectors": "none"})
    with pytest.raises(ConfigError, match=found):
        TopicClassifier(cfg, labels.taxonomy.ids).fit(tokens, label_matrix(labels.examples, labels.taxonomy.ids))


def test_vectors_info_on_a_file_with_a_non_object_meta_is_one_line(tmp_path, capsys):
    path = _vectors_file(tmp_path / "v.npz", ["保育"], np.ones((1, 8)), meta=[1])
    assert main(["vectors", "info", str(path)]) == 1
    err = capsys.readouterr().err
    assert "expected its meta record to be a JSON object" in err and "Traceback" not in err


def test_agreement_refuses_a_pass_compared_with_itself(tmp_path, labels_dir, capsys):
    from train.errors import LabelError
    from train.labeling.agreement import agreement

    first, _ = read_labels(labels_dir)
    # before: a file of the first pass given as the second reported 100 % agreement, kappa 1.000
    for second in (labels_dir, labels_dir / "labels.jsonl"):
        with pytest.raises(LabelError, match="both the first and the second pass"):
            agreement(first, read_labels(second)[0])
        assert main(["labels", "agreement", str(labels_dir), str(second)]) == 1
        err = capsys.readouterr().err
        assert "compared with themselves" in err and "Traceback" not in err
    other = tmp_path / "second.jsonl"
    other.write_bytes((labels_dir / "labels.jsonl").read_bytes())  # a separate second pass is still compared
    assert agreement(first, read_labels(other)[0])["items"] == 67


def test_vectors_general_refuses_values_past_float16_instead_of_writing_inf(tmp_path, capsys):
    import io
    import zipfile

    import msgpack

    from train.corpus import read_corpus
    from train.general_vectors import murmurhash64a
    from train.vectors import VectorSettings
    from train.vectors_build import build_vectors

    own = build_vectors(read_corpus([FIXTURES / "labels.jsonl"]), AnalyzerSettings(),
                        VectorSettings(dim=8, epochs=1, min_count=1))
    own.save(tmp_path / "own.npz")
    words = own.words[:60]
    data = np.random.default_rng(0).normal(size=(len(words), 12)).astype(np.float32) * 1e5  # float16 max: 65504
    buf = io.BytesIO()
    np.save(buf, data)
    with zipfile.ZipFile(tmp_path / "big.whl", "w") as zf:
        zf.writestr("p/p-0/vocab/key2row", msgpack.packb({murmurhash64a(w.encode()): i for i, w in enumerate(words)}))
        zf.writestr("p/p-0/vocab/vectors", buf.getvalue())
    out = tmp_path / "g.npz"
    # before: exit 0 and a file with inf rows, which then broke every fit that used it
    assert main(["vectors", "general", str(tmp_path / "big.whl"), "--out", str(out), "--vocabulary",
                 str(tmp_path / "own.npz"), "--dim", "4"]) == 1
    err = capsys.readouterr().err
    assert "fit the file's float16" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".g.npz*"))


def test_agreement_f1_is_undefined_not_perfect_where_neither_pass_has_a_positive(tmp_path, capsys):
    from train.labeling.agreement import agreement
    from conftest import write_jsonl

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    rows = [{"id": "k1", "text": "防災訓練について", "topics": ["disaster"]},
            {"id": "k2", "text": "保育園の待機児童について", "topics": []}]
    write_jsonl(tmp_path / "a" / "x.jsonl", rows)
    write_jsonl(tmp_path / "b" / "x.jsonl", [rows[0], {**rows[1], "topics": ["welfare"]}])
    res = agreement(read_labels(tmp_path / "a")[0], read_labels(tmp_path / "b")[0])
    # before: privacy (no positive in either pass) had kappa None but F1 1.0, as if the passes agreed perfectly on it
    assert res["topics"]["privacy"]["kappa"] is None and res["topics"]["privacy"]["f1"] is None
    assert res["topics"]["disaster"]["f1"] == pytest.approx(1.0) and res["topics"]["welfare"]["f1"] == 0.0
    assert res["micro_f1"] == pytest.approx(2 / 3)
    write_jsonl(tmp_path / "a" / "x.jsonl", [{**r, "topics": []} for r in rows])
    write_jsonl(tmp_path / "b" / "x.jsonl", [{**r, "topics": []} for r in rows])
    res = agreement(read_labels(tmp_path / "a")[0], read_labels(tmp_path / "b")[0])
    assert res["micro_f1"] is None and res["mean_kappa"] is None  # no positive anywhere: nothing to score
    assert main(["labels", "agreement", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "micro-F1 –" in out and "1.000" not in out
