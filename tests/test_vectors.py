"""Word vectors: building, the file format, their use as features, held-out vectors for evaluation."""

import json

import numpy as np
import pytest

from conftest import FIXTURES, fixture_label_rows, small_config, write_jsonl
from train.cli import main
from train.corpus import read_corpus
from train.errors import ConfigError, InputError
from train.evaluation.heldout_vectors import held_out_vectors
from train.labeling.store import label_matrix, read_labels
from train.model import VECTOR_PREFIX, TopicClassifier
from train.text import AnalyzerSettings, JapaneseAnalyzer
from train.vectors import BUNDLED, VectorSettings, load_vectors
from train.vectors_build import build_vectors

TINY = VectorSettings(dim=16, epochs=3, min_count=1, workers=1)


@pytest.fixture(scope="module")
def tiny_vectors(tmp_path_factory):
    path = tmp_path_factory.mktemp("vec") / "v.npz"
    wv = build_vectors(read_corpus([FIXTURES / "labels.jsonl"]), AnalyzerSettings(), TINY)
    wv.save(path)
    return path, wv


def test_build_save_load_roundtrip(tiny_vectors):
    path, wv = tiny_vectors
    loaded = load_vectors(path)
    assert loaded.words == wv.words and loaded.dim == 16
    assert np.array_equal(loaded.vectors, wv.vectors)  # built vectors are already float16-exact
    assert loaded.analyzer_key == AnalyzerSettings().key
    assert loaded.meta["utterances"] == 67 and loaded.meta["excluded_assemblies"] == []
    assert len(loaded.sha256) == 64
    assert "保育" in loaded.words or "保育園" in loaded.words


def test_same_settings_same_vectors():
    recs = list(read_corpus([FIXTURES / "labels.jsonl"]))
    a = build_vectors(recs, AnalyzerSettings(), TINY)
    b = build_vectors(recs, AnalyzerSettings(), TINY)
    assert a.words == b.words and np.array_equal(a.vectors, b.vectors)


def test_leaving_an_assembly_out_removes_its_words():
    recs = list(read_corpus([FIXTURES / "labels.jsonl"]))
    wv = build_vectors(recs, AnalyzerSettings(), TINY, exclude_assemblies=["東京都"])
    tokyo_only = set()
    analyzer = JapaneseAnalyzer()
    others = {w for r in recs if r.municipality != "東京都" for w in analyzer(r.text)}
    for r in recs:
        if r.municipality == "東京都":
            tokyo_only |= set(analyzer(r.text)) - others
    assert tokyo_only and not (tokyo_only & set(wv.words))
    assert wv.meta["excluded_assemblies"] == ["東京都"]
    with pytest.raises(InputError, match="no utterances left"):
        build_vectors(recs, AnalyzerSettings(), TINY,
                      exclude_assemblies={r.municipality for r in recs})


def test_bad_vector_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="found no file at .*vectors build"):
        load_vectors(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="not a word-vectors file"):
        load_vectors(bad)
    with pytest.raises(ConfigError, match="--dim"):
        VectorSettings(dim=0)


def test_bundled_vectors_ship_with_the_package():
    wv = load_vectors(BUNDLED)
    assert wv.dim == 100 and len(wv.words) > 20_000
    assert wv.analyzer_key == AnalyzerSettings().key  # built with the default analyzer
    assert wv.meta["utterances"] > 100_000


def test_model_uses_vectors_and_explains_by_terms(tiny_vectors, labels_dir):
    path, _ = tiny_vectors
    labels, _ = read_labels(labels_dir)
    texts = [e.text for e in labels.examples]
    tokens = [JapaneseAnalyzer()(t) for t in texts]
    cfg = small_config().replace(features={"vectors": str(path), "general_vectors": "none"})
    m = TopicClassifier(cfg, labels.taxonomy.ids).fit(tokens, label_matrix(labels.examples, labels.taxonomy.ids))
    names = m.feature_names
    assert sum(str(n).startswith(VECTOR_PREFIX) for n in names) == 16 and len(names) == m.W.shape[0]
    assert m.vectors_info["words"] > 0 and m.vectors_info["sha256"]
    X = m.transform(tokens[:3])
    for per_topic in m.explain_rows(X, range(len(m.topic_ids)), 5):
        assert all(not w.startswith(VECTOR_PREFIX) for terms in per_topic.values() for w, _ in terms)
    off = TopicClassifier(small_config().replace(features={"vectors": "none", "general_vectors": "none"}),
                          labels.taxonomy.ids)
    off.fit(tokens, label_matrix(labels.examples, labels.taxonomy.ids))
    assert off.vector_projection is None and X.shape[1] == off.W.shape[0] + 16


def test_vectors_from_another_analyzer_refused(tiny_vectors, labels_dir):
    path, _ = tiny_vectors
    labels, _ = read_labels(labels_dir)
    cfg = small_config().replace(features={"vectors": str(path)}, analyzer={"split_mode": "A"})
    with pytest.raises(ConfigError, match="analyzer settings.*rebuild"):
        TopicClassifier(cfg, labels.taxonomy.ids).fit([["保育"]] * 4, np.zeros((4, 13)))


def test_held_out_vectors_cached_and_without_the_assembly(tmp_path, tiny_vectors):
    path, _ = tiny_vectors
    cfg = small_config().replace(features={"vectors": str(path)})
    corpus = [str(FIXTURES / "labels.jsonl")]
    first = held_out_vectors(cfg, ["東京都", "品川区"], corpus, cache_dir=tmp_path)
    assert first["東京都"].meta["excluded_assemblies"] == ["東京都"]
    assert first["東京都"].meta["utterances"] == 67 - 18 and first["東京都"].dim == 16
    assert len(list(tmp_path.glob("vectors-heldout-*.npz"))) == 2
    again = held_out_vectors(cfg, ["東京都"], corpus, cache_dir=tmp_path)
    assert again["東京都"].sha256 == first["東京都"].sha256  # read back from the cache
    with pytest.raises(ConfigError, match="expected the corpus to contain 小樽市"):
        held_out_vectors(cfg, ["小樽市"], corpus, cache_dir=tmp_path)


def test_held_out_vectors_cache_depends_on_the_sudachi_versions(tmp_path, tiny_vectors, monkeypatch):
    """An upgraded dictionary analyses the corpus differently: vectors cached under the old one are not reused."""
    import train.evaluation.heldout_vectors as hv

    path, _ = tiny_vectors
    cfg = small_config().replace(features={"vectors": str(path)})
    corpus = [str(FIXTURES / "labels.jsonl")]
    held_out_vectors(cfg, ["東京都"], corpus, cache_dir=tmp_path)
    monkeypatch.setattr(hv, "sudachi_versions", lambda dictionary: "sudachipy 9.9; sudachidict-core 99999999")
    said = []
    held_out_vectors(cfg, ["東京都"], corpus, cache_dir=tmp_path, progress=said.append)
    assert len(list(tmp_path.glob("vectors-heldout-*.npz"))) == 2 and any("learning word vectors" in m for m in said)


def test_config_validation_of_vectors():
    with pytest.raises(ConfigError, match="features.vectors"):
        small_config().replace(features={"vectors": ""})
    with pytest.raises(ConfigError, match="features.vectors.*words is false"):
        small_config().replace(features={"words": False, "char_ngrams": True})
    with pytest.raises(ConfigError, match="features.general_vectors.*words is false"):
        small_config().replace(features={"words": False, "char_ngrams": True, "vectors": "none"})
    with pytest.raises(ConfigError, match="features.general_vectors: expected"):
        small_config().replace(features={"general_vectors": " "})
    with pytest.raises(ConfigError, match="vectors_weight"):
        small_config().replace(features={"vectors_weight": 0})


def test_cli_vectors_build_and_info(tmp_path, capsys):
    out = tmp_path / "v.npz"
    assert main(["vectors", "build", str(FIXTURES / "labels.jsonl"), "--out", str(out), "--dim", "8",
                 "--min-count", "1", "--epochs", "2", "--exclude-assembly", "東京都"]) == 0
    assert "words x 8 from 49 utterances" in capsys.readouterr().out
    assert main(["vectors", "info", str(out)]) == 0
    assert "left out: 東京都" in capsys.readouterr().out
    assert main(["vectors", "build", str(FIXTURES / "labels.jsonl"), "--out", str(tmp_path / "x.npz"),
                 "--dim", "0"]) == 1
    assert "vectors build --dim: expected an integer from 8 to 1000" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_cv_report_states_strict_held_out_vectors(tiny_vectors):
    from train.cache import TokenCache
    from train.evaluation.cv import EvalOptions, cross_validate

    path, _ = tiny_vectors
    labels, _ = read_labels(FIXTURES / "labels.jsonl")
    cfg = small_config().replace(features={"vectors": str(path)})
    opts = EvalOptions(folds=2, loao_min_labels=15, baselines=False, learning_curve=False, error_analysis=False,
                       corpus=(str(FIXTURES / "labels.jsonl"),))
    rep = cross_validate(labels, cfg, opts, cache=TokenCache(JapaneseAnalyzer(), None))
    assert rep["leave_one_assembly_out"]["vectors"].startswith("strict")
    assert rep["leave_one_assembly_out"]["vectors"].endswith("general-domain vectors (chiVe, learned from web "
                                                             "text, not minutes) as configured")
    assert json.dumps(rep["stamp"]["config"]["features"]["vectors"]) == json.dumps(str(path))


def test_labels_without_a_municipality_train_strict_held_out_folds_but_are_never_held_out(tmp_path, tiny_vectors):
    from train.cache import TokenCache
    from train.evaluation.cv import EvalOptions, cross_validate
    from train.evaluation.report import write_reports

    path, _ = tiny_vectors
    rows = fixture_label_rows()
    for r in rows[:12]:
        r.pop("municipality", None)
    write_jsonl(tmp_path / "l.jsonl", rows)
    labels, _ = read_labels(tmp_path / "l.jsonl")
    opts = EvalOptions(folds=2, loao_min_labels=5, baselines=False, learning_curve=False, error_analysis=False,
                       corpus=(str(FIXTURES / "labels.jsonl"),))
    rep = cross_validate(labels, small_config().replace(features={"vectors": str(path)}), opts,
                         cache=TokenCache(JapaneseAnalyzer(), None))
    loao = rep["leave_one_assembly_out"]
    assert "(unknown)" not in loao["assemblies"] and loao["without_assembly"] == 12
    assert all(m["overall"]["train"] >= 12 for m in loao["assemblies"].values())
    md = write_reports(rep, tmp_path / "r").joinpath("report.md").read_text(encoding="utf-8")
    assert "12 labels without a municipality are never held out (they train the held-out folds)" in md
    # one named assembly beside labels without one: it is still held out, trained on the others
    for r in rows:
        if r.get("municipality") not in (None, "品川区"):
            r.pop("municipality")
    write_jsonl(tmp_path / "l.jsonl", rows)
    labels, _ = read_labels(tmp_path / "l.jsonl")
    rep = cross_validate(labels, small_config().replace(features={"vectors": str(path)}), opts,
                         cache=TokenCache(JapaneseAnalyzer(), None))
    assert list(rep["leave_one_assembly_out"]["assemblies"]) == ["品川区"]


def test_bad_vectors_setting_refused_before_the_analysis(tmp_path, labels_dir):
    from train.evaluation.cv import EvalOptions, cross_validate
    from train.training import fit_labels

    class NoAnalysis:
        def tokens(self, texts):
            raise AssertionError("analysed before the vectors setting was checked")

    labels, _ = read_labels(labels_dir)
    for features in ({"general_vectors": str(tmp_path / "missing.npz")}, {"vectors": str(tmp_path / "gone.npz")}):
        cfg = small_config().replace(features=features)
        with pytest.raises(ConfigError, match="expected a word-vectors .npz file, found no file"):
            cross_validate(labels, cfg, EvalOptions(folds=2), cache=NoAnalysis())
        with pytest.raises(ConfigError, match="expected a word-vectors .npz file, found no file"):
            fit_labels(labels, cfg, cache=NoAnalysis())


def test_unknown_assembly_or_too_high_min_count_refused():
    recs = list(read_corpus([FIXTURES / "labels.jsonl"]))
    with pytest.raises(InputError, match="no utterances of 品川 in the corpus"):
        build_vectors(recs, AnalyzerSettings(), TINY, exclude_assemblies=["品川"])  # a typo of 品川区
    with pytest.raises(InputError, match="no word occurs 100000"):
        build_vectors(recs, AnalyzerSettings(), VectorSettings(dim=16, epochs=1, min_count=100000))


def test_new_council_workflow_vectors_from_its_minutes_then_train_and_tag(tmp_path, capsys, monkeypatch):
    """README, "A council the labels do not cover": vectors built from the corpus plus the new council's
    minutes, a config pointing features.vectors at them, train, tag the new minutes."""
    rows = fixture_label_rows()
    new = [r for r in rows if r.get("municipality") == "東京都"]
    corpus, minutes = tmp_path / "corpus", tmp_path / "new-council"
    corpus.mkdir(), minutes.mkdir()
    write_jsonl(corpus / "c.jsonl", [r for r in rows if r.get("municipality") != "東京都"])
    write_jsonl(minutes / "m.jsonl", [{k: r[k] for k in ("id", "municipality", "date", "text")} for r in new])
    monkeypatch.chdir(tmp_path)
    assert main(["vectors", "build", "corpus", "new-council", "--out", "council-vectors.npz", "--dim", "8",
                 "--min-count", "1", "--epochs", "2"]) == 0
    assert f"from {len(rows)} utterances" in capsys.readouterr().out
    (tmp_path / "council.toml").write_text('[features]\nvectors = "council-vectors.npz"\nmin_df = 1\n'
                                           '[thresholds]\nfolds = 2\n', encoding="utf-8")
    assert main(["train", "--labels", str(FIXTURES / "labels.jsonl"), "--config", "council.toml",
                 "--out", "model"]) == 0
    manifest = json.loads((tmp_path / "model" / "gikai.json").read_text(encoding="utf-8"))
    assert manifest["config"]["features"]["vectors"] == "council-vectors.npz"
    assert manifest["vectors"]["words"] > 0
    assert main(["tag-corpus", "new-council", "--model", "model", "--out", "tagged.jsonl"]) == 0
    tagged = (tmp_path / "tagged.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(tagged) == len(new)
