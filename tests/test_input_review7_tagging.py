"""The seventh review's findings on tag-corpus, predict, corpus sample, the corpus readers and timeline."""

import json
import os

import pytest

from conftest import write_jsonl
from train import tagging
from train.cli import main
from train.errors import InputError, Interrupted


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
    with pytest.raises(Interrupted):
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


# --------------------------------------------------------------------------- 3, 4, 6, 10: the corpus readers


def test_an_empty_file_is_a_bad_input_in_lenient_mode_whatever_came_before(tmp_path):
    from train.corpus import ReadStats, read_corpus

    a = write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "text": "防災訓練"}])
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"id": "2"}\n', encoding="utf-8")  # one bad line
    empty = tmp_path / "c.jsonl"
    empty.write_text("\n", encoding="utf-8")
    seed = tmp_path / "d.txt"
    seed.write_text("", encoding="utf-8")
    for order in ([a, empty, seed], [bad, empty, a, seed]):  # a bad line in an earlier file changes nothing
        stats = ReadStats()
        assert [r.id for r in read_corpus(order, lenient=True, stats=stats)] == ["1"]
        assert sum("file is empty" in m for m in stats.bad_lines) == 2
    with pytest.raises(Exception, match="c.jsonl: file is empty"):
        list(read_corpus([a, empty]))  # strict mode: still an error


def test_corrupt_gzip_is_a_corpus_error_with_file_and_line(fixtures, tmp_path, capsys):
    import gzip

    from train.corpus import read_jsonl
    from train.errors import CorpusError

    data = gzip.compress((fixtures / "corpus_sample.jsonl").read_bytes() * 20)
    corrupt = tmp_path / "c.jsonl.gz"
    corrupt.write_bytes(data[:2000] + bytes(b ^ 0x55 for b in data[2000:4000]) + data[4000:])
    truncated = tmp_path / "t.jsonl.gz"
    truncated.write_bytes(data[: len(data) // 2])
    for p in (corrupt, truncated):
        with pytest.raises(CorpusError, match=rf"{p.name}:\d+: cannot read the file from this line on: not intact gzip"):
            list(read_jsonl(p))
        assert main(["corpus", "stats", "--lenient", str(p)]) == 1
        err = capsys.readouterr().err
        assert "intact gzip" in err and "Traceback" not in err


def test_seed_files_with_one_name_in_two_folders_are_refused(fixtures, tmp_path, trained_model_dir):
    from train.corpus import read_corpus
    from train.errors import CorpusError

    for year in ("2023", "2024"):
        (tmp_path / "c" / year).mkdir(parents=True)
        (tmp_path / "c" / year / "minutes.txt").write_bytes((fixtures / "seed_sample.txt").read_bytes())
    with pytest.raises(CorpusError, match=r"2023/minutes.txt and .*2024/minutes.txt: .*same ids.*rename one"):
        list(read_corpus([tmp_path / "c"], lenient=True))
    with pytest.raises(CorpusError, match="rename one"):
        _tag([tmp_path / "c"], tmp_path / "t.jsonl", trained_model_dir)
    assert not (tmp_path / "t.jsonl.parts").exists()
    (tmp_path / "c" / "2024" / "minutes.txt").rename(tmp_path / "c" / "2024" / "minutes-2024.txt")
    ids = [r.id for r in read_corpus([tmp_path / "c"], dedupe=False)]
    assert len(ids) == len(set(ids)) == 42 and "seed:minutes:2" in ids  # the id form is unchanged
    # the same file named twice is no clash of names (its records are repeated ids, reported as such)
    one = tmp_path / "c" / "2023" / "minutes.txt"
    with pytest.raises(CorpusError, match="duplicate record id"):
        list(read_corpus([one, one], dedupe=False))


def test_bom_on_the_first_line_is_accepted_by_the_corpus_reader(tmp_path):
    from train.corpus import read_jsonl
    from train.errors import CorpusError

    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + '{"id": "a", "text": "防災訓練"}\n'.encode("utf-8"))
    assert [r.id for r in read_jsonl(p)] == ["a"]
    # a BOM anywhere else is still an error, as before
    p.write_bytes('{"id": "a", "text": "防災"}\n'.encode() + b"\xef\xbb\xbf" + b'{"id": "b", "text": "x"}\n')
    with pytest.raises(CorpusError, match="bom.jsonl:2: malformed JSON"):
        list(read_jsonl(p))


def test_duplicate_id_message_names_file_and_line_of_both(tmp_path):
    from train.corpus import ReadStats, read_corpus
    from train.errors import CorpusError

    a = write_jsonl(tmp_path / "a.jsonl", [{"id": "x", "text": "一つ目"}, {"id": "y", "text": "二つ目"}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": "z", "text": "三つ目"}, {"id": "y", "text": "四つ目"}])
    with pytest.raises(CorpusError, match=r"b.jsonl:2: duplicate record id 'y', first read at .*a.jsonl:2: .*unique"):
        list(read_corpus([a, b]))
    stats = ReadStats()
    assert [r.id for r in read_corpus([a, b], lenient=True, stats=stats)] == ["x", "y", "z"]
    assert stats.bad_lines == [f"{b}:2: duplicate record id 'y', first read at {a}:2 (skipped)"]


# --------------------------------------------------------------------------- 3, 5: tag-corpus reading


def test_tag_corpus_skips_an_empty_file_and_reports_it(corpus, tmp_path, trained_model_dir, capsys):
    (corpus / "empty.jsonl").write_bytes(b"")
    out = tmp_path / "t.jsonl"
    assert main(["tag-corpus", str(corpus), "--out", str(out), "--model", str(trained_model_dir), "--jobs", "1"]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 47
    err = capsys.readouterr().err
    assert "skipped 1 bad record(s)" in err and "empty.jsonl: file is empty" in err


def test_a_read_failure_before_any_part_leaves_no_parts_and_a_fixed_rerun_needs_no_restart(
        corpus, fixtures, tmp_path, trained_model_dir):
    import gzip

    from train.errors import CorpusError

    good = gzip.compress((fixtures / "corpus_sample.jsonl").read_bytes())
    gz = corpus / "b.jsonl.gz"
    gz.write_bytes(good[:40])  # truncated
    out = tmp_path / "t.jsonl"
    with pytest.raises(CorpusError, match="b.jsonl.gz:1: .*intact gzip"):
        _tag([corpus], out, trained_model_dir)
    assert not (tmp_path / "t.jsonl.parts").exists() and not out.exists()
    gz.write_bytes(gzip.compress((fixtures / "corpus_sample.jsonl").read_bytes().replace(b'"id": "', b'"id": "gz-')))
    s = _tag([corpus], out, trained_model_dir)  # no --restart needed
    assert s.records == 47 + 26 and s.chunks_reused == 0


def test_unknown_format_is_refused_before_the_parts_folder(fixtures, tmp_path, trained_model_dir):
    from train.errors import CorpusError

    csv = tmp_path / "c.csv"
    csv.write_text("id,text\n1,防災\n", encoding="utf-8")
    jl = tmp_path / "a.jsonl"
    jl.write_bytes((fixtures / "corpus_sample.jsonl").read_bytes())
    with pytest.raises(CorpusError, match="c.csv: unknown format"):
        _tag([jl, csv], tmp_path / "t.jsonl", trained_model_dir)
    assert not (tmp_path / "t.jsonl.parts").exists()


def test_a_parts_folder_without_parts_is_replaced_not_a_reason_for_restart(corpus, tmp_path, trained_model_dir):
    parts = tmp_path / "t.jsonl.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text('{"key": "an earlier, failed run"}', encoding="utf-8")
    assert _tag([corpus], tmp_path / "t.jsonl", trained_model_dir).records == 47
    assert not parts.exists()
    blocker = tmp_path / "u.jsonl.parts"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="u.jsonl.parts: is a file"):
        _tag([corpus], tmp_path / "u.jsonl", trained_model_dir)


def test_tag_corpus_tags_every_record_repeated_texts_too(tmp_path, trained_model_dir, capsys):
    rows = [{"id": "a", "text": "ほかにございますか。"}, {"id": "b", "text": "防災訓練について伺います。"},
            {"id": "c", "text": "ほかにございますか。"}, {"id": "d", "text": "ほかにございますか。"}]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "t.jsonl"
    assert main(["tag-corpus", str(inp), "--out", str(out), "--model", str(trained_model_dir), "--jobs", "1",
                 "--chunk-size", "3"]) == 0
    assert "tagged 4 utterances" in capsys.readouterr().out
    tagged = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [t["id"] for t in tagged] == ["a", "b", "c", "d"]
    same = [{k: v for k, v in t.items() if k != "id"} for t in tagged if t["text"] == rows[0]["text"]]
    assert len(same) == 3 and same[0] == same[1] == same[2]


# --------------------------------------------------------------------------- 8: shown scores agree with the topics

# thresholds whose neighbourhood rounding gets wrong: rounding 4 or 5 decimals down across them, or up across them,
# and ones where gikai.json's 6-decimal figure lies on the other side of a rounded score than the exact threshold
_HARD_THRESHOLDS = [0.62504, 0.62506, 0.625049, 0.6251004, 0.62509996, 0.500005, 0.5000049999, 0.7, 0.41234996]


def _forced(tagger, monkeypatch, deltas=(-1e-9, 0.0, 1e-9, -3e-7, 3e-7)):
    """The tagger's model with the thresholds above (cycled over its topics) and scores forced next to them."""
    import numpy as np

    k = len(tagger.topic_ids)
    t = np.array([_HARD_THRESHOLDS[j % len(_HARD_THRESHOLDS)] for j in range(k)])
    monkeypatch.setattr(tagger.model, "thresholds", t)
    probs = np.array([t + d for d in deltas])
    monkeypatch.setattr(tagger.model, "scores", lambda X: probs[: X.shape[0]])
    monkeypatch.setattr(tagger.model, "predict_proba", lambda texts: probs[: len(texts)])
    return t, probs


def _check_invariant(topics, shown, thresholds, probs, topic_ids, step):
    for j, tid in enumerate(topic_ids):
        t = float(thresholds[j])
        listed = tid in topics
        assert listed == (probs[j] >= t)  # decided on the raw score, as before
        assert listed == (shown[tid] >= t) == (shown[tid] >= round(t, 6)), (tid, t, probs[j], shown[tid])
        assert abs(shown[tid] - probs[j]) <= step + 5e-7 + 1e-9  # a step, and the threshold's own 6-decimal rounding


def test_predict_scores_never_contradict_the_topics(trained_model_dir, monkeypatch):
    from train.inference import load_model
    from train.predict import predict_lines

    tagger = load_model(trained_model_dir)
    t, probs = _forced(tagger, monkeypatch)
    items = [(i, f"text {i}") for i in range(len(probs))]
    for i, line in enumerate(predict_lines(tagger, items)):
        res = json.loads(line)  # what a reader of the JSONL sees
        assert set(res) == {"id", "topics", "scores"}
        assert all(len(repr(v).split(".")[-1]) <= 4 for v in res["scores"].values())  # still 4 decimals
        _check_invariant(res["topics"], res["scores"], t, probs[i], tagger.topic_ids, 1e-4)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_tag_corpus_scores_never_contradict_the_topics(trained_model_dir, tmp_path, monkeypatch, fmt):
    import pyarrow.parquet as pq

    from train.inference import load_model
    from train.store import files_digest

    tagger = load_model(trained_model_dir)
    t, probs = _forced(tagger, monkeypatch)
    monkeypatch.setattr(tagging, "_WORKER_TAGGER", tagger)
    monkeypatch.setattr(tagging, "_WORKER_MODEL_DIR", str(trained_model_dir))
    rows = [{"id": str(i), "text": f"text {i}"} for i in range(len(probs))]
    part = tmp_path / f"p.{fmt}"
    tagging.tag_chunk(str(trained_model_dir), rows, str(part), fmt, files_digest(tagger.manifest))
    if fmt == "jsonl":
        got = [json.loads(line) for line in part.read_text(encoding="utf-8").splitlines()]
    else:
        got = pq.read_table(part).to_pylist()  # float32 scores, as stored
    for i, row in enumerate(got):
        shown = {tid: row[f"score_{tid}"] for tid in tagger.topic_ids}
        _check_invariant(row["topics"], shown, t, probs[i], tagger.topic_ids, 1e-5)


# --------------------------------------------------------------------------- 9: timeline input

_LINE = '{"municipality": "品川区", "date": "2024-01-05", "topics": ["dx"]}\n'


def test_timeline_refuses_topics_that_are_not_strings(tmp_path, capsys):
    bad = tmp_path / "a.jsonl"
    bad.write_text(_LINE + '{"municipality":"品川区","date":"2024-01-05","topics":[["dx"]]}\n', encoding="utf-8")
    assert main(["timeline", str(bad), "--out", str(tmp_path / "tl")]) == 1
    err = capsys.readouterr().err
    assert "a.jsonl:2: not a tag-corpus output line" in err and "Traceback" not in err
    assert not (tmp_path / "tl").exists()


def test_timeline_parquet_with_wrong_column_types_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from train.tagged import read_tagged

    p = tmp_path / "t.parquet"
    pq.write_table(pa.table({"municipality": ["品川区"], "date": ["2024-01-05"], "topics": [[["dx"]]]}), p)
    with pytest.raises(InputError, match="expected a string and a list of strings"):
        list(read_tagged(p))
    pq.write_table(pa.table({"municipality": [3], "date": ["2024-01-05"], "topics": [["dx"]]}), p)
    with pytest.raises(InputError, match="expected a string and a list of strings"):
        list(read_tagged(p))


def test_timeline_jsonl_blank_lines_upper_case_suffix_and_bom(tmp_path):
    from train.tagged import read_tagged

    want = [("品川区", "2024-01-05", ["dx"])] * 2
    trailing = tmp_path / "c.jsonl"
    trailing.write_text(_LINE + "\n" + _LINE + "\n\n", encoding="utf-8")
    upper = tmp_path / "D.JSONL"
    upper.write_text(_LINE * 2, encoding="utf-8")
    bom = tmp_path / "b.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + (_LINE * 2).encode("utf-8"))
    for p in (trailing, upper, bom):
        assert list(read_tagged(p)) == want
    assert main(["timeline", str(upper), "--out", str(tmp_path / "tl")]) == 0
    assert "品川区,2024-01,2," in (tmp_path / "tl" / "timeline-month.csv").read_text(encoding="utf-8-sig")


# --------------------------------------------------------------------------- 10: predict input and UTF-8 stdout


def test_predict_refuses_an_empty_input_file_or_stdin(trained_model_dir, tmp_path, monkeypatch, capsys):
    import io
    import sys

    for content in (b"", b"\n  \n"):
        inp = tmp_path / "in.jsonl"
        inp.write_bytes(content)
        out = tmp_path / "out.jsonl"
        assert main(["predict", "--model", str(trained_model_dir), "--input", str(inp), "--output", str(out)]) == 1
        err = capsys.readouterr().err
        assert "in.jsonl: no input lines; expected at least one JSON line" in err and not out.exists()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert main(["predict", "--model", str(trained_model_dir), "--input", "-"]) == 1
    captured = capsys.readouterr()
    assert "<stdin>: no input lines" in captured.err and captured.out == ""


def test_predict_accepts_a_bom_on_the_first_line(trained_model_dir, tmp_path):
    inp = tmp_path / "bom.jsonl"
    inp.write_bytes(b"\xef\xbb\xbf" + '{"id": "a", "text": "防災訓練"}\n{"id": "b", "text": "学校給食"}\n'.encode())
    out = tmp_path / "o.jsonl"
    assert main(["predict", "--model", str(trained_model_dir), "--input", str(inp), "--output", str(out)]) == 0
    assert [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()] == ["a", "b"]


def test_jsonl_to_stdout_is_utf8_whatever_the_locale(fixtures, trained_model_dir, tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    cli = [sys.executable, "-c", "from train.cli import entrypoint; entrypoint()"]
    sample = subprocess.run([*cli, "corpus", "sample", str(fixtures / "corpus_sample.jsonl"), "--n", "3"],
                            capture_output=True, env=env, cwd=ROOT, timeout=300)
    assert sample.returncode == 0, sample.stderr
    rows = [json.loads(line) for line in sample.stdout.decode("utf-8").splitlines()]
    assert len(rows) == 3 and all(any(ord(c) > 0xFF for c in r["text"]) for r in rows)  # not Latin-1
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": "議会-1", "text": "防災訓練"}])
    pred = subprocess.run([*cli, "predict", "--model", str(trained_model_dir), "--input", str(inp)],
                          capture_output=True, env=env, cwd=ROOT, timeout=300)
    assert pred.returncode == 0, pred.stderr
    assert json.loads(pred.stdout.decode("utf-8"))["id"] == "議会-1"
