"""General-domain (chiVe) vectors: reading a spaCy vocabulary without spaCy, the build, their use beside our own."""

import io
import zipfile

import msgpack
import numpy as np
import pytest

from conftest import FIXTURES, small_config
from train.cli import main
from train.corpus import read_corpus
from train.errors import ConfigError, InputError
from train.general_vectors import SpacyVectorTable, build_general_vectors, murmurhash64a
from train.labeling.store import label_matrix, read_labels
from train.model import VECTOR_PREFIX, TopicClassifier
from train.text import AnalyzerSettings, JapaneseAnalyzer
from train.vectors import GENERAL_BUNDLED_PATH, BUNDLED, VectorSettings, concat_vectors, load_vectors
from train.vectors_build import build_vectors


def test_murmurhash_is_spacys_string_hash():
    # checked against ja_ginza 5.3.0's vocab/key2row, which is keyed by spaCy's hash_utf8 (MurmurHash64A, seed 1)
    assert murmurhash64a("防災".encode()) == 0xC2DFCFF43CA61B24
    assert murmurhash64a(b"") == 0xC6A4A7935BD064DC
    assert murmurhash64a("マイナンバーカード".encode()) != murmurhash64a("マイナンバー".encode())


@pytest.fixture(scope="module")
def own_vectors():
    return build_vectors(read_corpus([FIXTURES / "labels.jsonl"]), AnalyzerSettings(),
                         VectorSettings(dim=16, epochs=2, min_count=1, workers=1))


def _wheel(path, words, dim=24, seed=0):
    """A pipeline wheel laid out as spaCy writes it: <pkg>/<pkg>-x/vocab/{key2row,vectors,strings.json}."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(len(words), dim)).astype(np.float32)
    key2row = {murmurhash64a(w.encode()): i for i, w in enumerate(words)}
    buf = io.BytesIO()
    np.save(buf, data)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ja_test/ja_test-0.1/vocab/key2row", msgpack.packb(key2row))
        zf.writestr("ja_test/ja_test-0.1/vocab/vectors", buf.getvalue())
        zf.writestr("ja_test/ja_test-0.1/vocab/strings.json", "[]")
    return data


def _compound(words):
    """A vocabulary word that Sudachi's mode A splits into parts."""
    from sudachipy import Dictionary, SplitMode

    tok = Dictionary(dict="core").tokenizer(mode=SplitMode.A, fields={"normalized_form"})
    for w in words:
        parts = [m.normalized_form() for m in tok.tokenize(w)]
        if len(parts) >= 2 and all(parts):
            return w, parts
    raise AssertionError("no compound in the fixture vocabulary")


def test_build_keeps_vocabulary_rows_backs_off_compounds_and_reduces(tmp_path, own_vectors):
    compound, parts = _compound(own_vectors.words)
    table_words = [w for w in own_vectors.words if w != compound][:60] + parts
    wheel = tmp_path / "ja_test-0.1-py3-none-any.whl"
    data = _wheel(wheel, list(dict.fromkeys(table_words)))
    table = SpacyVectorTable.open(wheel)
    assert np.array_equal(table.get(table_words[0]), data[0]) and table.get("存在しない語") is None
    gv = build_general_vectors(table, own_vectors, dim=8)
    assert gv.dim == 8 and compound in gv.words  # backed off to the mean of its mode-A parts
    assert set(gv.words) <= set(own_vectors.words)
    assert gv.meta["kind"] == "general" and gv.meta["analyzer_key"] == own_vectors.analyzer_key
    assert gv.meta["words_backoff"] >= 1 and gv.meta["source_file"] == wheel.name
    # with every dimension kept, PCA is a rotation: distances between rows are the table's own distances
    full = build_general_vectors(table, own_vectors, dim=24)
    pos, row = {w: i for i, w in enumerate(full.words)}, {w: i for i, w in enumerate(dict.fromkeys(table_words))}
    a, b = table_words[0], table_words[1]
    assert np.isclose(np.linalg.norm(full.vectors[pos[a]] - full.vectors[pos[b]]),
                      np.linalg.norm(data[row[a]] - data[row[b]]), rtol=1e-4)
    parts_mean = np.mean([data[row[p]] for p in parts], axis=0)
    assert np.isclose(np.linalg.norm(full.vectors[pos[compound]] - full.vectors[pos[a]]),
                      np.linalg.norm(parts_mean - data[row[a]]), rtol=1e-4)
    out = tmp_path / "g.npz"
    gv.save(out)
    back = load_vectors(out, general=True)
    assert back.words == gv.words and back.vectors.shape == (len(gv.words), 8)


def test_model_concatenates_own_and_general_vectors(tmp_path, own_vectors, labels_dir):
    wheel = tmp_path / "w.whl"
    _wheel(wheel, own_vectors.words[:200])
    gpath, opath = tmp_path / "g.npz", tmp_path / "o.npz"
    build_general_vectors(SpacyVectorTable.open(wheel), own_vectors, dim=8).save(gpath)
    own_vectors.save(opath)
    own, general = load_vectors(opath), load_vectors(gpath, general=True)
    both = concat_vectors(own, general)
    assert both.dim == 24 and np.allclose(np.linalg.norm(both.vectors[:, :16], axis=1).mean(), 1.0, atol=1e-3)
    at = {w: i for i, w in enumerate(both.words)}
    w_in, w_out = general.words[0], next(w for w in own.words if w not in set(general.words))
    scale = both.vectors[at[w_in], 0] / own.vectors[own.words.index(w_in), 0]
    assert np.allclose(both.vectors[at[w_in], :16], scale * own.vectors[own.words.index(w_in)], rtol=1e-4)
    assert not both.vectors[at[w_out], 16:].any() and both.vectors[at[w_in], 16:].any()
    assert both.meta["general"]["sha256"] == general.sha256
    labels, _ = read_labels(labels_dir)
    tokens = [JapaneseAnalyzer()(e.text) for e in labels.examples]
    Y = label_matrix(labels.examples, labels.taxonomy.ids)
    cfg = small_config().replace(features={"vectors": str(opath), "general_vectors": str(gpath)})
    m = TopicClassifier(cfg, labels.taxonomy.ids).fit(tokens, Y)
    assert sum(str(n).startswith(VECTOR_PREFIX) for n in m.feature_names) == 24
    assert m.vectors_info["general"]["sha256"] == general.sha256
    only = TopicClassifier(cfg.replace(features={"vectors": "none"}), labels.taxonomy.ids).fit(tokens, Y)
    assert sum(str(n).startswith(VECTOR_PREFIX) for n in only.feature_names) == 8


def test_bundled_general_vectors_ship_with_the_package():
    wv = load_vectors(BUNDLED, general=True)
    assert wv.meta["kind"] == "general" and wv.dim == 100 and len(wv.words) > 20_000
    assert wv.analyzer_key == AnalyzerSettings().key == load_vectors(BUNDLED).analyzer_key
    assert "ja_ginza" in wv.meta["source_file"] and "Apache" in wv.meta["source"]


def test_bad_sources_are_clear_errors(tmp_path, own_vectors):
    junk = tmp_path / "junk.whl"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="expected a wheel .zip. of a spaCy pipeline"):
        SpacyVectorTable.open(junk)
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("x/vocab/strings.json", "[]")
    with pytest.raises(InputError, match="found no key2row or vectors"):
        SpacyVectorTable.open(empty)
    with pytest.raises(InputError, match="no such file or folder"):
        SpacyVectorTable.open(tmp_path / "missing.whl")
    wheel = tmp_path / "w.whl"
    _wheel(wheel, own_vectors.words[:50])
    with pytest.raises(InputError, match="--dim: expected an integer from 2 to 24"):
        build_general_vectors(SpacyVectorTable.open(wheel), own_vectors, dim=500)
    with pytest.raises(ConfigError, match="features.general_vectors: expected a word-vectors .npz file.*vectors general"):
        load_vectors(tmp_path / "nope.npz", general=True)
    own = tmp_path / "own.npz"
    own_vectors.save(own)
    with pytest.raises(ConfigError, match="features.general_vectors: expected general-domain vectors.*own vectors"):
        load_vectors(own, general=True)
    with pytest.raises(ConfigError, match="features.vectors: expected vectors learned from a corpus"):
        load_vectors(GENERAL_BUNDLED_PATH)  # the general table named as own vectors
    table = tmp_path / "vocab"
    table.mkdir()
    (table / "key2row").write_bytes(msgpack.packb({murmurhash64a(b"x"): 5}))
    buf = io.BytesIO()
    np.save(buf, np.zeros((2, 4), dtype=np.float32))
    (table / "vectors").write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="expected key2row rows from 0 to 1, found 5"):
        SpacyVectorTable.open(table)
    (table / "key2row").write_bytes(msgpack.packb({murmurhash64a(b"x"): 1}))
    buf = io.BytesIO()
    np.save(buf, np.full((2, 4), np.nan, dtype=np.float32))
    (table / "vectors").write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="expected finite vectors"):
        SpacyVectorTable.open(table)


def test_general_vectors_of_another_analyzer_refused_with_a_way_out(labels_dir):
    labels, _ = read_labels(labels_dir)
    cfg = small_config().replace(features={"vectors": "none"}, analyzer={"split_mode": "A"})
    with pytest.raises(ConfigError, match='features.general_vectors: .*analyzer settings.*general_vectors = "none"'):
        TopicClassifier(cfg, labels.taxonomy.ids).fit([["保育"]] * 4, np.zeros((4, 13)))
    only_own = cfg.replace(features={"general_vectors": "none"})
    assert not only_own.features.uses_vectors


def test_configs_pickled_before_general_vectors_load_without_them():
    from train.config import FeatureConfig

    state = dict(FeatureConfig().__dict__)
    del state["general_vectors"]  # what a model saved by the previous release carries
    old = FeatureConfig.__new__(FeatureConfig)
    old.__setstate__(state)
    assert old.general_vectors == "none" and old.vectors == "bundled"


def test_cli_vectors_general_and_info(tmp_path, capsys, own_vectors):
    opath, wheel, out = tmp_path / "o.npz", tmp_path / "w.whl", tmp_path / "g.npz"
    own_vectors.save(opath)
    _wheel(wheel, own_vectors.words[:100])
    assert main(["vectors", "general", str(wheel), "--out", str(out), "--vocabulary", str(opath), "--dim", "4"]) == 0
    assert "words x 4 (general:" in capsys.readouterr().out
    assert main(["vectors", "info", str(out)]) == 0
    assert "by mode-A backoff" in capsys.readouterr().out
    assert main(["vectors", "general", str(wheel), "--out", str(tmp_path / "y.npz"), "--vocabulary",
                 str(tmp_path / "typo.npz")]) == 1
    err = capsys.readouterr().err
    assert "--vocabulary: expected a word-vectors .npz file" in err and "features" not in err
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"x")
    assert main(["vectors", "general", str(bad), "--out", str(tmp_path / "x.npz"), "--vocabulary", str(opath)]) == 1
    err = capsys.readouterr().err
    assert "expected a wheel" in err and "Traceback" not in err and not (tmp_path / "x.npz").exists()


def test_a_compound_backs_off_only_when_at_least_half_its_parts_have_a_row(tmp_path, own_vectors):
    """Was: a row from one part in three (⌊3/2⌋ = 1); now at least half of the parts must have one."""
    from train.general_vectors import _mode_a_parts

    split = _mode_a_parts(own_vectors.words)
    three = next((w for w, p in split.items() if len(p) == 3 and len(set(p)) == 3 and all(p)), None)
    if three is None:
        pytest.skip("no three-part compound in the fixture vocabulary")
    parts = split[three]
    others = [w for w in own_vectors.words if w != three and w not in parts][:60]
    for given, kept in ((parts[:1], False), (parts[:2], True)):
        wheel = tmp_path / f"ja_t{len(given)}-0.1-py3-none-any.whl"
        _wheel(wheel, others + given)
        gv = build_general_vectors(SpacyVectorTable.open(wheel), own_vectors, dim=8)
        assert (three in gv.words) is kept, (three, parts, given)
