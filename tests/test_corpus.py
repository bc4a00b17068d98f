import gzip
import json
import shutil

import pytest

from conftest import write_jsonl
from train.cli import main
from train.corpus import group_key, normalize_text, read_corpus, read_jsonl, read_seed_text
from train.corpus_tools import SampleFilter, corpus_stats, sample
from train.errors import CorpusError


def test_jsonl_records(fixtures):
    recs = list(read_jsonl(fixtures / "corpus_sample.jsonl"))
    assert len(recs) == 26
    r = recs[0]
    assert r.id == "otaru:2019-02-26:08:0000" and r.municipality == "小樽市" and r.date == "2019-02-26"
    assert r.speaker == "議長（鈴木喜明）"


def test_jsonl_gz_equals_plain(fixtures, tmp_path):
    gz = tmp_path / "c.jsonl.gz"
    with gzip.open(gz, "wb") as fh:
        fh.write((fixtures / "corpus_sample.jsonl").read_bytes())
    assert list(read_jsonl(gz)) == list(read_jsonl(fixtures / "corpus_sample.jsonl"))


def test_seed_format_header_speaker_and_ids(fixtures):
    recs = list(read_seed_text(fixtures / "seed_sample.txt"))
    assert len(recs) == 21  # 22 lines, one header
    assert all(r.municipality == "高崎市" and r.date == "2024-05-29" for r in recs)
    assert recs[0].meeting.startswith("総務常任委員会")
    with_speaker = [r for r in recs if r.speaker]
    assert with_speaker[0].speaker == "教育長(吉川真由美)"
    assert with_speaker[0].text.startswith("教育DX担当配置")  # number and marker stripped
    assert [r.id for r in recs] == [r.id for r in read_seed_text(fixtures / "seed_sample.txt")]  # stable
    assert any(r.speaker == "宮坂職員課長" for r in recs)


def test_seed_without_header(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("5 【議長(山田太郎)】 ただいまから会議を開きます。\n二行目の発言です。\n", encoding="utf-8")
    recs = list(read_seed_text(p))
    assert recs[0].speaker == "議長(山田太郎)" and recs[0].municipality is None
    assert recs[1].text == "二行目の発言です。"


def test_dedup_and_group_keys(fixtures):
    recs = list(read_corpus([fixtures / "seed_sample.txt"]))
    assert len(recs) == 17  # four exact copies removed
    texts = [r.text for r in recs]
    assert len(set(texts)) == len(texts)
    assert group_key("ＤＸの推進、について。") == group_key("DXの推進について")
    assert group_key("全角　スペース") == group_key("全角スペース")
    assert group_key("防災") != group_key("防犯")
    assert normalize_text("Ａｂｃ！") == "abc"


def test_near_duplicates_share_group(tmp_path):
    p = tmp_path / "a.jsonl"
    rows = [{"id": "1", "text": "子育て支援について伺います。"}, {"id": "2", "text": "子育て支援について 伺います"}]
    write_jsonl(p, rows)
    a, b = read_corpus([p])
    assert a.group == b.group


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"id": "1", "text": "ok text here"}\n{"id": "2", "text": \n', ":2: malformed JSON"),
        (b'{"id": "1", "text": "ok text here"}\n{"id": "2"}\n', ":2: expected a non-empty string field 'text'"),
        (b'{"id": "1", "text": "\xff\xfe broken"}\n', ":1: invalid UTF-8"),
        (b"", "file is empty"),
        (b'[1, 2]\n', ":1: expected a JSON object"),
    ],
)
def test_bad_input_raises_with_file_and_line(tmp_path, content, message):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(content)
    with pytest.raises(CorpusError, match=message.replace("(", r"\(")):
        list(read_corpus([p]))


def test_cli_bad_input_one_line_no_traceback(tmp_path, capsys):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(b'{"id": "1", "text": "fine utterance"}\n{not json}\n')
    code = main(["corpus", "stats", str(p)])
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and "bad.jsonl:2" in err and "Traceback" not in err


def test_lenient_skips_and_counts(tmp_path, capsys):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(b'{"id": "1", "text": "fine utterance"}\n{not json}\n{"id": "3"}\n{"id": "4", "text": "another"}\n')
    assert main(["corpus", "stats", str(p), "--lenient"]) == 0
    out = capsys.readouterr()
    assert "records 2" in out.out and "skipped 2 bad line(s)" in out.err


def test_stats_per_assembly(fixtures):
    st = corpus_stats([fixtures / "corpus_sample.jsonl", fixtures / "seed_sample.txt"])
    assert st.records == 26 + 17 and st.duplicates_removed == 4
    assert st.assemblies["小樽市"].records == 6
    assert st.assemblies["高崎市"].first_date == "2024-05-29"
    assert st.length_percentiles[50] > 0


def test_sample_filters_exclude_and_seed(fixtures, tmp_path):
    paths = [fixtures / "corpus_sample.jsonl"]
    a = sample(paths, 5, seed=1)
    assert a == sample(paths, 5, seed=1) and len(a) == 5
    only = sample(paths, 50, where=SampleFilter(assembly="小樽市"))
    assert {r.municipality for r in only} == {"小樽市"}
    grep = sample(paths, 50, where=SampleFilter(grep="会議"))
    assert grep and all("会議" in r.text for r in grep)
    ex = tmp_path / "ex.jsonl"
    ex.write_text("".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in a), encoding="utf-8")
    rest = sample(paths, 100, exclude=[ex])
    assert not {r.id for r in rest} & {r.id for r in a}
    short = sample(paths, 100, where=SampleFilter(max_len=100))
    assert all(len(r.text) <= 100 for r in short)


def test_sample_cli_writes_jsonl(fixtures, tmp_path):
    out = tmp_path / "s.jsonl"
    assert main(["corpus", "sample", str(fixtures / "corpus_sample.jsonl"), "--n", "3", "--out", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3
    assert main(["corpus", "sample", str(fixtures / "corpus_sample.jsonl"), "--n", "3", "--grep", "("]) != 0


def test_directory_input(fixtures, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(fixtures / "corpus_sample.jsonl", d)
    shutil.copy(fixtures / "seed_sample.txt", d)
    assert len(list(read_corpus([d]))) == 43


def test_sample_exclude_that_reads_nothing_is_an_error(fixtures, tmp_path):
    from train.errors import InputError

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="no corpus files found"):
        sample([fixtures / "corpus_sample.jsonl"], 5, exclude=[empty])
    with pytest.raises(InputError, match="--exclude .*: no such file or folder"):
        sample([fixtures / "corpus_sample.jsonl"], 5, exclude=[tmp_path / "lables"])
    nested = tmp_path / "labels" / "agreement"  # only a subfolder holds label files: still read
    nested.mkdir(parents=True)
    shutil.copy(fixtures / "corpus_sample.jsonl", nested / "x.jsonl")
    assert sample([fixtures / "corpus_sample.jsonl"], 100, exclude=[tmp_path / "labels"]) == []


def test_sample_says_when_fewer_utterances_match_than_asked(fixtures, tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    assert main(["corpus", "sample", str(fixtures / "corpus_sample.jsonl"), "--n", "1000", "--out", str(out)]) == 0
    n = len(out.read_text(encoding="utf-8").splitlines())
    assert 0 < n < 1000
    assert f"only {n} utterance(s) matched, fewer than --n 1000" in capsys.readouterr().err
