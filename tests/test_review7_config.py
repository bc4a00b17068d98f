"""Seventh review, configuration and vectors: outputs that would overwrite their inputs, config values that
mean something else than documented or break the fit, vectors for another analyzer, thresholds above the
allowed range, a failed --out export that left a stored model behind."""

import io
import zipfile

import msgpack
import numpy as np
import pytest

from conftest import FIXTURES, fixture_label_rows, small_config, write_jsonl
from train.cli import main
from train.general_vectors import murmurhash64a
from train.vectors import load_vectors

TINY_BUILD = ["--dim", "8", "--min-count", "1", "--epochs", "2"]


def _wheel(path, words, dim=24, seed=0):
    """A spaCy pipeline wheel holding a vectors table for ``words`` (what `vectors general` reads)."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    np.save(buf, rng.normal(size=(len(words), dim)).astype(np.float32))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ja_test/ja_test-0.1/vocab/key2row",
                    msgpack.packb({murmurhash64a(w.encode()): i for i, w in enumerate(words)}))
        zf.writestr("ja_test/ja_test-0.1/vocab/vectors", buf.getvalue())


# ----------------------------------------------------------------- finding 2: --out that is an input


def test_vectors_build_refuses_to_overwrite_its_corpus(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", fixture_label_rows())
    folder = tmp_path / "minutes"
    folder.mkdir()
    write_jsonl(folder / "m.jsonl", fixture_label_rows())
    before = corpus.read_bytes(), (folder / "m.jsonl").read_bytes()
    for args, says in (([str(corpus), "--out", str(corpus)], "is the input"),
                       ([str(folder), "--out", str(folder / "v.npz")], "inside the input folder")):
        assert main(["vectors", "build", *args, *TINY_BUILD]) == 1
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err
    assert (corpus.read_bytes(), (folder / "m.jsonl").read_bytes()) == before
    assert sorted(p.name for p in folder.iterdir()) == ["m.jsonl"]


def test_vectors_build_refuses_an_output_inside_the_default_seeds(capsys):
    from train.paths import default_path

    seeds = default_path("seeds")
    assert main(["vectors", "build", "--out", str(seeds / "v.npz"), *TINY_BUILD]) == 1
    assert "inside the input folder" in capsys.readouterr().err
    assert not (seeds / "v.npz").exists()


def test_vectors_general_refuses_to_overwrite_its_wheel_or_vocabulary(tmp_path, capsys):
    own = tmp_path / "own.npz"
    assert main(["vectors", "build", str(FIXTURES / "labels.jsonl"), "--out", str(own), *TINY_BUILD]) == 0
    wheel = tmp_path / "w.whl"
    _wheel(wheel, load_vectors(own).words[:100])
    capsys.readouterr()
    before = wheel.read_bytes(), own.read_bytes()
    for out in (wheel, own):
        assert main(["vectors", "general", str(wheel), "--out", str(out), "--vocabulary", str(own),
                     "--dim", "4"]) == 1
        err = capsys.readouterr().err
        assert "is the input" in err and "Traceback" not in err
    assert (wheel.read_bytes(), own.read_bytes()) == before
    unpacked = tmp_path / "vocab"
    unpacked.mkdir()
    with zipfile.ZipFile(wheel) as zf:
        for name in ("key2row", "vectors"):
            (unpacked / name).write_bytes(zf.read(f"ja_test/ja_test-0.1/vocab/{name}"))
    assert main(["vectors", "general", str(unpacked), "--out", str(unpacked / "g.npz"), "--vocabulary", str(own),
                 "--dim", "4"]) == 1
    assert "inside the input folder" in capsys.readouterr().err
    assert not (unpacked / "g.npz").exists()
    assert main(["vectors", "general", str(wheel), "--out", str(tmp_path / "g.npz"), "--vocabulary", str(own),
                 "--dim", "4"]) == 0


# ----------------------------------------------------------------- finding 3: max_df = 1 in TOML


def test_max_df_written_as_an_integer_is_the_fraction_it_stands_for(tmp_path):
    from train.config import load_config
    from train.errors import ConfigError
    from train.labeling.store import read_labels
    from train.model import TopicClassifier
    from train.text import JapaneseAnalyzer

    p = tmp_path / "c.toml"
    p.write_text("[features]\nmax_df = 1\nmin_df = 1\n", encoding="utf-8")
    as_int = load_config(p)
    assert as_int.features.max_df == 1.0 and isinstance(as_int.features.max_df, float)
    as_float = small_config().replace(features={"max_df": 1.0})
    assert as_int.features == as_float.features
    labels, _ = read_labels(FIXTURES / "labels.jsonl")
    analyzer = JapaneseAnalyzer()
    tokens = [analyzer(ex.text) for ex in labels.examples]
    vocabularies = []
    for cfg in (as_int, as_float):
        word, _ = TopicClassifier(cfg, labels.taxonomy.ids)._new_vectorizers()
        word.fit(tokens)
        vocabularies.append(word.vocabulary_)
    # as a document count, 1 would have kept only the terms of a single text
    assert vocabularies[0] == vocabularies[1]
    assert any(sum(term in t for t in tokens) > 1 for term in vocabularies[0])
    # min_df is documented as a count and stays one: a fraction is refused, not read as a share
    p.write_text("[features]\nmin_df = 0.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"features.min_df: expected an integer >= 1, found 0.5"):
        load_config(p)


# ----------------------------------------------------------------- finding 7: cuts above max_threshold


def _old_best_thresholds(Y, P, lo, hi, default):
    """best_thresholds before the fix (cuts only where the upper score lies in [lo, hi]), for comparison."""
    out = np.full(Y.shape[1], default)
    for j in range(Y.shape[1]):
        y, p = Y[:, j].astype(bool), P[:, j]
        if y.sum() == 0:
            continue
        order = np.argsort(-p, kind="stable")
        ps, ys = p[order], y[order]
        f1 = 2 * np.cumsum(ys) / (np.arange(1, len(ys) + 1) + y.sum())
        valid = np.r_[ps[1:] < ps[:-1], True] & (ps >= lo) & (ps <= hi)
        if not valid.any():
            continue
        i = int(np.argmax(np.where(valid, f1, -1)))
        nxt = ps[i + 1] if i + 1 < len(ps) else lo
        out[j] = float(np.clip((ps[i] + max(nxt, lo)) / 2, lo, hi))
    return out


def _f1(y, p, t):
    pred = p >= t
    denom = pred.sum() + y.sum()
    return 2 * (pred & (y == 1)).sum() / denom if denom else 0.0


def test_a_cut_above_max_threshold_is_taken_inside_the_range():
    from train.fitting import best_thresholds

    Y = np.array([[1], [1], [0], [0], [0]])
    P = np.array([[0.99], [0.98], [0.90], [0.10], [0.02]])
    t = best_thresholds(Y, P, 0.05, 0.95, 0.5)[0]
    assert 0.90 < t <= 0.95 and _f1(Y[:, 0], P[:, 0], t) == 1.0  # was 0.5, F1 0.8
    # every score above the range: predicting all of them is the only cut the range allows
    assert best_thresholds(np.array([[1], [0]]), np.array([[0.99], [0.97]]), 0.05, 0.95, 0.5)[0] == 0.5
    # no score reaches lo: no cut; the default stays
    assert best_thresholds(np.array([[1], [0]]), np.array([[0.02], [0.01]]), 0.05, 0.95, 0.3)[0] == 0.3


@pytest.mark.parametrize("seed", range(6))
def test_thresholds_change_only_where_a_cut_above_the_range_is_strictly_better(seed):
    from train.fitting import best_thresholds

    rng = np.random.default_rng(seed)
    lo, hi = 0.05, 0.95
    Y = (rng.random((300, 40)) < rng.uniform(0.02, 0.4, 40)).astype(int)
    Y[:, 0] = 0  # a column without positives keeps the default
    noisy = np.clip(Y * rng.uniform(0.2, 1.0, Y.shape) + rng.normal(0, 0.25, Y.shape), 0, 1)
    inside = rng.uniform(lo, hi, Y.shape)  # every possible cut in the range: nothing may change
    assert np.array_equal(best_thresholds(Y, inside, lo, hi, 0.5), _old_best_thresholds(Y, inside, lo, hi, 0.5))
    # confident scores: positives near 1, a few negatives just below them, some above hi
    confident = np.where(Y == 1, rng.uniform(0.955, 1.0, Y.shape),
                         np.where(rng.random(Y.shape) < 0.03, rng.uniform(0.85, 0.97, Y.shape),
                                  rng.uniform(0.0, 0.5, Y.shape)))
    for P, changes in ((noisy, False), (np.round(noisy, 2), False), (confident, True)):  # with ties, below lo
        new, old = best_thresholds(Y, P, lo, hi, 0.5), _old_best_thresholds(Y, P, lo, hi, 0.5)
        assert ((new >= lo) & (new <= hi)).all() and new[0] == 0.5
        better = 0
        for j in range(Y.shape[1]):
            f_new, f_old = _f1(Y[:, j], P[:, j], new[j]), _f1(Y[:, j], P[:, j], old[j])
            assert f_new >= f_old
            if f_new == f_old:
                assert new[j] == old[j]  # a threshold changes only for a strictly better cut
            better += f_new > f_old
        assert (better > 0) == changes, better


# ----------------------------------------------------------------- finding 5: a failed --out export


@pytest.fixture(scope="module")
def fitted():
    """One fit of the fixture labels, handed to every train() below instead of fitting again."""
    from train.cache import TokenCache
    from train.labeling.store import read_labels
    from train.text import JapaneseAnalyzer
    from train.training import fit_labels

    cfg = small_config()
    labels, _ = read_labels(FIXTURES / "labels.jsonl")
    return fit_labels(labels, cfg, cache=TokenCache(JapaneseAnalyzer(cfg.analyzer), None))


def _store_state(home):
    store = home / "models" / "gikai-topics"
    if not store.exists():
        return [], None
    return sorted(p.name for p in store.iterdir() if p.is_dir()), (store / "latest").read_text()


@pytest.mark.parametrize("failure", [OSError("No space left on device"), KeyboardInterrupt()])
@pytest.mark.parametrize("earlier", [False, True])
def test_failed_or_interrupted_export_takes_the_stored_version_back(failure, earlier, fitted, labels_dir, tmp_path,
                                                                    isolated_state, monkeypatch):
    """The model is saved to the store first, then written to --out: when that second write fails or is
    interrupted, the store loses the new version again (`latest` names the earlier one) and --out keeps
    what it held."""
    import train.store as store
    import train.training as training

    monkeypatch.setattr(training, "fit_labels", lambda *a, **k: fitted)
    out = tmp_path / "model"
    if earlier:  # an earlier model in the store and at --out
        training.train(labels_dir, small_config(), out=out)
    before_store = _store_state(isolated_state)
    before_out = sorted((p.name, p.read_bytes()) for p in out.iterdir()) if earlier else None
    real, writes = store.write_model_dir, []

    def second_write_fails(directory, *a, **k):
        writes.append(directory)
        if len(writes) == 2:  # the export to --out, after the store's copy
            (directory / store.MODEL_FILE).write_bytes(b"half a model")
            raise failure
        return real(directory, *a, **k)

    monkeypatch.setattr(store, "write_model_dir", second_write_fails)
    with pytest.raises(type(failure)):
        training.train(labels_dir, small_config(), out=out)
    assert len(writes) == 2
    assert _store_state(isolated_state) == before_store
    if earlier:
        assert sorted((p.name, p.read_bytes()) for p in out.iterdir()) == before_out
    else:
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["labels"] + (["model"] if earlier else []))


def test_cli_train_interrupted_while_exporting_leaves_nothing(fitted, labels_dir, tmp_path, isolated_state,
                                                              monkeypatch, capsys):
    import train.store as store
    import train.training as training

    monkeypatch.setattr(training, "fit_labels", lambda *a, **k: fitted)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "export_dir", interrupted)
    monkeypatch.setattr(training, "export_dir", interrupted)
    assert main(["train", "--labels", str(labels_dir), "--out", str(tmp_path / "m")]) == 130
    assert "nothing was written" in capsys.readouterr().err
    assert _store_state(isolated_state) == ([], None) and not (tmp_path / "m").exists()


def test_interrupt_after_the_export_is_in_place_keeps_both_copies(fitted, labels_dir, tmp_path, isolated_state,
                                                                 monkeypatch):
    """Once --out holds the new model complete, the train is done: the stored version is not taken back."""
    import train.training as training

    monkeypatch.setattr(training, "fit_labels", lambda *a, **k: fitted)
    real = training.export_dir

    def then_interrupted(*a, **k):
        real(*a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "export_dir", then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        training.train(labels_dir, small_config(), out=tmp_path / "m")
    versions, latest = _store_state(isolated_state)
    assert versions == [latest]
    import json

    assert json.loads((tmp_path / "m" / "gikai.json").read_text())["tag"] == f"gikai-topics:{latest}"


# ----------------------------------------------------------------- finding 10: numbers that then broke the fit


@pytest.mark.parametrize("toml, says", [
    ("[features]\nvectors_weight = 1e39\n", "features.vectors_weight: expected a positive number up to 1000, "
                                            "found 1e+39; use a value in that range (the default is 1"),
    ("[features]\nchar_ngrams = true\nchar_weight = 1e39\n", "features.char_weight: expected a positive number "
                                                             "up to 1000, found 1e+39"),
    ("[features]\nchar_weight = nan\n", "features.char_weight: expected a positive number up to 1000, found nan"),
    ("[features]\nvectors_weight = 0\n", "features.vectors_weight: expected a positive number up to 1000, found 0"),
    ("[classifier]\nC = 1e300\n", "classifier.C: expected a number from 1e-06 to 1e+06, found 1e+300; use a value "
                                  "in that range (the default is 8"),
    ("[classifier]\nC = 1e-300\n", "classifier.C: expected a number from 1e-06 to 1e+06, found 1e-300"),
    ("[classifier]\nC = -inf\n", "classifier.C: expected a number from 1e-06 to 1e+06, found -inf"),
    ("[classifier]\nkind = \"sgd\"\nsgd_alpha = 1e300\n", "classifier.sgd_alpha: expected a number from 1e-10 to "
                                                          "1, found 1e+300; use a value in that range (the default "
                                                          "is 2e-05"),
    ("[classifier]\nsgd_alpha = 1e-300\n", "classifier.sgd_alpha: expected a number from 1e-10 to 1, found 1e-300"),
    ("[classifier]\nsgd_alpha = true\n", "classifier.sgd_alpha: expected a number from 1e-10 to 1, found True"),
])
def test_numbers_that_would_break_the_fit_are_refused_with_the_range(tmp_path, toml, says):
    from train.config import load_config
    from train.errors import ConfigError

    p = tmp_path / "c.toml"
    p.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert says in str(err.value)


def test_the_bounds_themselves_fit(labels_dir):
    """The largest and smallest accepted values still train (on the fixture labels)."""
    from train.labeling.store import read_labels, label_matrix
    from train.model import TopicClassifier
    from train.text import JapaneseAnalyzer

    labels, _ = read_labels(labels_dir)
    texts = [ex.text for ex in labels.examples]
    analyzer = JapaneseAnalyzer()
    tokens = [analyzer(t) for t in texts]
    Y = label_matrix(labels.examples, labels.taxonomy.ids)
    for changes in ({"features": {"vectors_weight": 1000, "char_ngrams": True, "char_weight": 1000},
                     "classifier": {"C": 1e6}},
                    {"classifier": {"C": 1e-6}},
                    {"classifier": {"kind": "sgd", "sgd_alpha": 1}},
                    {"classifier": {"kind": "sgd", "sgd_alpha": 1e-10}}):
        m = TopicClassifier(small_config().replace(**changes), labels.taxonomy.ids).fit(tokens, Y, texts=texts)
        assert np.isfinite(m.W).all() and np.isfinite(m.predict_proba_tokens(tokens[:3], texts[:3])).all()


# ----------------------------------------------------------------- finding 6: vectors for another analyzer


def test_the_hint_for_another_analyzer_builds_vectors_that_train(tmp_path, capsys, monkeypatch):
    """A config with another [analyzer] is refused with the default vectors; the commands its message gives,
    run as given (on the fixture corpus), build vectors that this config trains with."""
    import json
    import re
    import shlex

    monkeypatch.chdir(tmp_path)
    config = tmp_path / "cfg.toml"
    settings = '[analyzer]\nsplit_mode = "A"\n[thresholds]\nfolds = 2\n'
    config.write_text(settings + "[features]\nmin_df = 1\n", encoding="utf-8")
    labels = str(FIXTURES / "labels.jsonl")
    assert main(["train", "--labels", labels, "--config", str(config), "--out", "m"]) == 1
    err = capsys.readouterr().err
    assert "features.vectors and features.general_vectors: expected vectors built with this config's analyzer" in err
    commands = re.findall(r"`(gikai-topics [^`]*)`", err)
    assert [c.split()[1:3] for c in commands] == [["vectors", "build"], ["vectors", "general"]]
    assert not (tmp_path / "m").exists()

    own_cmd = shlex.split(commands[0].replace("CONFIG.toml", str(config)).replace("[CORPUS...]", labels))
    assert main(own_cmd[1:] + TINY_BUILD) == 0
    own = load_vectors(tmp_path / "own.npz")
    from train.config import load_config

    assert own.analyzer_key == load_config(config).analyzer.key and own.meta["analyzer"]["split_mode"] == "A"
    _wheel(tmp_path / "w.whl", own.words[:150])
    general_cmd = shlex.split(commands[1].replace("WHEEL", "w.whl"))
    assert main(general_cmd[1:] + ["--dim", "4"]) == 0
    capsys.readouterr()

    config.write_text(settings + '[features]\nmin_df = 1\nvectors = "own.npz"\ngeneral_vectors = "general.npz"\n',
                      encoding="utf-8")
    assert main(["train", "--labels", labels, "--config", str(config), "--out", "m"]) == 0, capsys.readouterr().err
    manifest = json.loads((tmp_path / "m" / "gikai.json").read_text(encoding="utf-8"))
    assert manifest["config"]["analyzer"]["split_mode"] == "A"
    assert manifest["vectors"]["sha256"] == own.sha256 and manifest["vectors"]["general"]["words"] > 0


def test_vectors_build_config_errors_and_its_file_is_an_input(tmp_path, capsys):
    config = tmp_path / "cfg.toml"
    config.write_text('[analyzer]\nsplit_mode = "D"\n', encoding="utf-8")
    corpus = str(FIXTURES / "labels.jsonl")
    assert main(["vectors", "build", corpus, "--config", str(config), "--out", str(tmp_path / "v.npz")]) == 1
    assert "split_mode: expected one of 'A', 'B', 'C', found 'D'" in capsys.readouterr().err
    config.write_text('[analyzer]\nsplit_mode = "B"\n', encoding="utf-8")
    assert main(["vectors", "build", corpus, "--config", str(config), "--out", str(config)]) == 1
    assert "is the input" in capsys.readouterr().err
    assert config.read_text(encoding="utf-8") == '[analyzer]\nsplit_mode = "B"\n'
    assert main(["vectors", "build", corpus, "--config", str(tmp_path / "none.toml"), "--out",
                 str(tmp_path / "v.npz")]) == 1
    assert "config file not found" in capsys.readouterr().err
    assert not (tmp_path / "v.npz").exists()


# ----------------------------------------------------------------- finding 8: what a rebuild reproduces


def test_two_builds_with_the_same_settings_give_the_same_words_and_rows(tmp_path):
    """README: `vectors build --workers 1` reproduces the words and vector rows; only the recorded build time
    (meta "seconds"), and so the file's bytes and digest, may differ.  The same for `vectors general`."""
    corpus = str(FIXTURES / "labels.jsonl")
    builds = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.npz"
        assert main(["vectors", "build", corpus, "--out", str(out), "--workers", "1", *TINY_BUILD]) == 0
        builds.append(load_vectors(out))
    a, b = builds
    assert a.words == b.words and np.array_equal(a.vectors, b.vectors)
    differ = {k for k in set(a.meta) | set(b.meta) if a.meta.get(k) != b.meta.get(k)}
    assert differ <= {"seconds", "sha256"}
    _wheel(tmp_path / "w.whl", a.words[:150])
    general = []
    for name in ("ga", "gb"):
        out = tmp_path / f"{name}.npz"
        assert main(["vectors", "general", str(tmp_path / "w.whl"), "--out", str(out), "--vocabulary",
                     str(tmp_path / "a.npz"), "--dim", "4"]) == 0
        general.append(load_vectors(out, general=True))
    ga, gb = general
    assert ga.words == gb.words and np.array_equal(ga.vectors, gb.vectors)
    assert {k for k in set(ga.meta) | set(gb.meta) if ga.meta.get(k) != gb.meta.get(k)} <= {"seconds", "sha256"}


def test_vectors_general_refuses_to_overwrite_the_bundled_vocabulary(tmp_path, capsys):
    from train.vectors import BUNDLED_PATH

    before = BUNDLED_PATH.stat().st_mtime_ns, BUNDLED_PATH.stat().st_size
    _wheel(tmp_path / "w.whl", ["保育"])
    assert main(["vectors", "general", str(tmp_path / "w.whl"), "--out", str(BUNDLED_PATH)]) == 1
    assert "is the input" in capsys.readouterr().err
    assert (BUNDLED_PATH.stat().st_mtime_ns, BUNDLED_PATH.stat().st_size) == before
