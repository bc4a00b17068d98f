import pyarrow.parquet as pq
import pytest

from train import tagging
from train.cli import main
from train.errors import InputError, Interrupted
from train.timeline import compute_timeline, to_csv


def _rows(path):
    return pq.read_table(path).to_pylist()


def test_local_parquet_output(corpus, tmp_path, trained_model_dir):
    out = tmp_path / "t.parquet"
    s = tagging.tag_corpus([corpus], out, model=str(trained_model_dir), jobs=2, chunk_size=7)
    rows = _rows(out)
    assert s.records == len(rows) == 47 and s.chunks == 7 and s.bad_records == 0  # repeated texts tagged too
    assert {"id", "municipality", "date", "text", "topics", "score_dx", "score_culture_sports"} <= set(rows[0])
    assert not (tmp_path / "t.parquet.parts").exists()
    assert pq.read_schema(out).metadata[b"gikai_topics_model"].decode() == str(trained_model_dir)


def test_dask_local_matches_local(corpus, tmp_path, trained_model_dir):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    tagging.tag_corpus([corpus], a, model=str(trained_model_dir), jobs=2, chunk_size=10)
    tagging.tag_corpus([corpus], b, model=str(trained_model_dir), jobs=2, chunk_size=10, dask="local")
    assert _rows(a) == _rows(b)


def test_resume_after_interruption_gives_same_file(corpus, tmp_path, trained_model_dir, monkeypatch):
    full = tmp_path / "full.jsonl"
    tagging.tag_corpus([corpus], full, model=str(trained_model_dir), jobs=1, chunk_size=5)

    out = tmp_path / "resumed.jsonl"
    calls = {"n": 0}
    real_pool = tagging._LocalPool

    class Interrupting(real_pool):
        def submit(self, *args):
            calls["n"] += 1
            if calls["n"] == 4:
                raise KeyboardInterrupt  # as if Ctrl-C came after three chunks
            return super().submit(*args)

    monkeypatch.setattr(tagging, "_LocalPool", Interrupting)
    with pytest.raises(Interrupted) as info:  # not the CLI's generic "nothing was written": parts are kept
        tagging.tag_corpus([corpus], out, model=str(trained_model_dir), jobs=1, chunk_size=5)
    assert not out.exists()  # the output appears only when complete
    parts = sorted((tmp_path / "resumed.jsonl.parts").glob("part-*"))
    assert 1 <= len(parts) <= 3
    assert f"{len(parts)} finished part(s) are kept" in str(info.value) and "resume" in str(info.value)
    assert info.value.exit_code == 130
    monkeypatch.setattr(tagging, "_LocalPool", real_pool)
    s = tagging.tag_corpus([corpus], out, model=str(trained_model_dir), jobs=1, chunk_size=5)
    assert s.chunks_reused == len(parts)
    assert out.read_bytes() == full.read_bytes()


def test_changed_inputs_refuse_stale_parts(corpus, tmp_path, trained_model_dir):
    out = tmp_path / "x.jsonl"
    parts = tmp_path / "x.jsonl.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text('{"key": "something else"}')
    (parts / "part-000000.jsonl").write_text("{}\n")  # work of that other run (without parts: just replaced)
    with pytest.raises(InputError, match="--restart"):
        tagging.tag_corpus([corpus], out, model=str(trained_model_dir), jobs=1)
    tagging.tag_corpus([corpus], out, model=str(trained_model_dir), jobs=1, restart=True)
    assert out.exists()


def test_bad_records_are_counted_not_fatal(corpus, tmp_path, trained_model_dir, capsys):
    with open(corpus / "a.jsonl", "ab") as fh:
        fh.write(b'{"id": "broken"\n{"id": "x9", "text": ""}\n\xff\xfe\n')
    out = tmp_path / "t.jsonl"
    assert main(["tag-corpus", str(corpus), "--out", str(out), "--model", str(trained_model_dir), "--jobs", "1"]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 47
    assert "skipped 3 bad record(s)" in capsys.readouterr().err


def test_undecodable_records_are_skipped_not_a_traceback(corpus, tmp_path, trained_model_dir, capsys):
    with open(corpus / "a.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"id": "s1", "text": "防災\\ud800"}\n{"id": ' + "9" * 5000 + ', "text": "防災"}\n')
    out = tmp_path / "t.jsonl"
    assert main(["tag-corpus", str(corpus), "--out", str(out), "--model", str(trained_model_dir), "--jobs", "1"]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 47
    err = capsys.readouterr().err
    assert "skipped 2 bad record(s)" in err and "lone surrogate" in err


def test_nothing_readable_is_an_error_and_writes_nothing(tmp_path, trained_model_dir):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jsonl").write_text('{"id": "x", "text": ""}\n{"id": "y"\n', encoding="utf-8")
    out = tmp_path / "t.parquet"
    with pytest.raises(InputError, match="no readable utterances.*2 bad record"):
        tagging.tag_corpus([bad], out, model=str(trained_model_dir), jobs=1)
    assert not out.exists() and not (tmp_path / "t.parquet.parts").exists()


def test_bad_jobs_out_and_dask_refused_before_any_work(corpus, tmp_path, trained_model_dir):
    with pytest.raises(InputError, match="--jobs: expected an integer >= 1, found 0"):
        tagging.tag_corpus([corpus], tmp_path / "t.jsonl", model=str(trained_model_dir), jobs=0)
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        tagging.tag_corpus([corpus], tmp_path / "dir.jsonl", model=str(trained_model_dir), jobs=1)
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        tagging.tag_corpus([corpus], tmp_path / "d.jsonl", model=str(trained_model_dir), dask="tcp://127.0.0.1:1")
    assert not any(p.name.endswith(".parts") for p in tmp_path.iterdir())


def test_bad_out_name(corpus, tmp_path, trained_model_dir):
    with pytest.raises(InputError, match=".parquet or .jsonl"):
        tagging.tag_corpus([corpus], tmp_path / "t.csv", model=str(trained_model_dir))


def test_timeline_hand_computed():
    rows = [
        ("品川区", "2024-01-05", ["dx"]),
        ("品川区", "2024-02-10", ["dx", "privacy"]),
        ("品川区", "2024-03-31", []),
        ("品川区", "2024-04-01", ["urban"]),
        ("東京都", "2019-12-01", ["dx"]),
        ("東京都", None, ["dx"]),  # undated: left out
    ]
    ids = ["dx", "privacy", "urban"]
    q = compute_timeline(rows, "quarter", ids)
    assert q == [
        {"assembly": "品川区", "period": "2024-Q1", "utterances": 3, "dx": round(2 / 3, 6), "privacy": round(1 / 3, 6),
         "urban": 0.0},
        {"assembly": "品川区", "period": "2024-Q2", "utterances": 1, "dx": 0.0, "privacy": 0.0, "urban": 1.0},
        {"assembly": "東京都", "period": "2019-Q4", "utterances": 1, "dx": 1.0, "privacy": 0.0, "urban": 0.0},
    ]
    assert compute_timeline(rows, "year", ids, assembly="東京都")[0]["utterances"] == 1
    assert to_csv(q, ids).splitlines()[0] == "assembly,period,utterances,dx,privacy,urban"
    with pytest.raises(InputError):
        compute_timeline(rows, "week", ids)


def test_timeline_cli_writes_csv_and_png(corpus, tmp_path, trained_model_dir):
    out = tmp_path / "t.parquet"
    tagging.tag_corpus([corpus], out, model=str(trained_model_dir), jobs=1)
    assert main(["timeline", str(out), "--by", "year", "--out", str(tmp_path / "tl")]) == 0
    csv_text = (tmp_path / "tl" / "timeline-year.csv").read_text(encoding="utf-8-sig")
    assert "高崎市,2024,21," in csv_text  # every utterance of the seed file, repeated texts too
    assert (tmp_path / "tl" / "timeline-year.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["timeline", str(tmp_path / "missing.parquet")]) == 1


def test_timeline_skips_unreadable_dates_and_names_bad_lines(tmp_path):
    from train.tagged import read_tagged

    rows = [("品川区", "2019/2/26", ["dx"]), ("品川区", "2022-13-01", ["dx"]), ("品川区", 20220301, ["dx"]),
            ("品川区", "2022-03-01", ["dx"])]
    out = compute_timeline(rows, "month", ["dx"])
    assert [(r["period"], r["utterances"]) for r in out] == [("2022-03", 1)]  # the rest are undated, not a crash
    bad = tmp_path / "t.jsonl"
    bad.write_bytes(b'{"municipality": 5, "date": "2022-03-01", "topics": []}\n')
    with pytest.raises(InputError, match="t.jsonl:1: not a tag-corpus output line"):
        list(read_tagged(bad))
    bad.write_bytes(b'\xff\xfe\n')
    with pytest.raises(InputError, match="t.jsonl:1: not a tag-corpus output line"):
        list(read_tagged(bad))
