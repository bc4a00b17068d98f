"""``gikai-topics find``: the utterances of a tagged corpus by topic, assembly, date, speaker and text."""

from __future__ import annotations

import csv
import io
import json

import pytest

from conftest import jsonl_rows, write_jsonl
from train.cli import main
from train.errors import InputError
from train.find import find_utterances

IDS = ["dx", "privacy", "disaster"]


def _row(id, muni, date, topics, dx=0.1, privacy=0.1, disaster=0.0, speaker="○委員（山田太郎君）", text="質問します。"):
    return {"id": id, "municipality": muni, "date": date, "meeting": "本会議", "speaker": speaker, "text": text,
            "source": "x.jsonl", "topics": topics, "score_dx": dx, "score_privacy": privacy,
            "score_disaster": disaster}


# file order differs from id order where two rows tie (s:0002 before s:0001), to see ties broken by id
ROWS = [
    _row("shinagawa:r05:0002", "品川区", "2023-01-10", ["privacy"], privacy=0.9, speaker="○区長（森澤恭子君）",
         text="個人情報の保護について、区の考えをお答えします。"),
    _row("shinagawa:r05:0001", "品川区", "2023-01-10", ["privacy"], privacy=0.9, text="個人情報の取扱いを伺います。"),
    _row("shinagawa:r05:0003", "品川区", "2023-03-31", ["privacy", "dx"], dx=0.85, privacy=0.8,
         text="マイナンバーとＤＸの推進について伺います。"),
    _row("shinagawa:r05:0004", "品川区", "2023-04-01", [], privacy=0.45, text="個人番号の件は以上です。"),
    _row("shinagawa:r04:0001", "品川区", "2022-12-31", ["dx"], dx=0.7, privacy=0.2, text="ＤＸの推進を求めます。"),
    _row("otaru:r05:0001", "小樽市", "2023-02-15", ["privacy"], privacy=0.6, speaker="○市長（迫俊哉君）"),
    _row("otaru:r05:0002", "小樽市", None, ["privacy"], privacy=0.9, text="日付のない発言です。"),
    _row("x:0001", None, "2023-06-01", ["disaster"], disaster=0.95, text="防災訓練について。"),
]


def _write_parquet(path, rows):
    """``rows`` as tag-corpus writes Parquet: its schema (scores as float32)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from train.tag_files import _schema

    pq.write_table(pa.Table.from_pylist(rows, schema=_schema(IDS)), path)
    return path


@pytest.fixture(params=["jsonl", "parquet"])
def tagged(request, tmp_path):
    if request.param == "jsonl":
        return write_jsonl(tmp_path / "tagged.jsonl", ROWS)
    return _write_parquet(tmp_path / "tagged.parquet", ROWS)


def _ids(path, **kw):
    return [r["id"] for r in find_utterances(path, **kw).records]


def _cli(capsys, *args):
    """Exit code, JSONL records on stdout (the format down a pipe), stderr."""
    code = main(["find", *map(str, args)])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


# --------------------------------------------------------------------------- selection


def test_topics_select_utterances_tagged_with_any_of_them(tagged):
    assert set(_ids(tagged, topics=["privacy"])) == {"shinagawa:r05:0001", "shinagawa:r05:0002", "shinagawa:r05:0003",
                                                     "otaru:r05:0001", "otaru:r05:0002"}
    assert set(_ids(tagged, topics=["dx", "disaster"])) == {"shinagawa:r05:0003", "shinagawa:r04:0001", "x:0001"}
    assert _ids(tagged, topics=["dx", "dx,disaster"]) == _ids(tagged, topics=["dx", "disaster"])  # commas, repeats
    assert len(_ids(tagged)) == len(ROWS)  # no --topic: every utterance


def test_min_score_selects_by_score_instead_of_by_tag(tagged):
    # 0004 is not tagged privacy (0.45 is under the threshold) but is over 0.4: just under the threshold
    assert _ids(tagged, topics=["privacy"], min_score=0.4) == [
        "shinagawa:r05:0001", "shinagawa:r05:0002", "otaru:r05:0002", "shinagawa:r05:0003", "otaru:r05:0001",
        "shinagawa:r05:0004"]
    # above the threshold it keeps the confident tags only; 0.9 stored as float32 (0.89999998) is still 0.9
    assert set(_ids(tagged, topics=["privacy"], min_score=0.9)) == {"shinagawa:r05:0001", "shinagawa:r05:0002",
                                                                    "otaru:r05:0002"}
    # without --topic: a score >= P on any topic
    assert set(_ids(tagged, min_score=0.85)) == {"shinagawa:r05:0001", "shinagawa:r05:0002", "shinagawa:r05:0003",
                                                 "otaru:r05:0002", "x:0001"}


def test_assembly_by_name_id_prefix_or_unknown(tagged):
    assert set(_ids(tagged, assembly="小樽市")) == {"otaru:r05:0001", "otaru:r05:0002"}
    assert _ids(tagged, assembly="otaru") == _ids(tagged, assembly="小樽市")
    assert _ids(tagged, assembly="(unknown)") == ["x:0001"]  # as timeline shows a row without a municipality


def test_speaker_and_text_substrings_ignore_width_and_case(tagged):
    # the minutes write ＤＸ (full width): `--contains dx` must find it
    assert set(_ids(tagged, contains="dx")) == {"shinagawa:r05:0003", "shinagawa:r04:0001"}
    assert _ids(tagged, speaker="市長") == ["otaru:r05:0001"]
    assert _ids(tagged, speaker="区長", contains="個人情報") == ["shinagawa:r05:0002"]
    assert _ids(tagged, speaker="存在しない") == []


def test_date_bounds_are_inclusive_and_a_month_covers_all_its_days(tagged, capsys):
    q1 = _ids(tagged, date_from="2023-01", date_to="2023-03", sort="date")
    assert q1 == ["shinagawa:r05:0001", "shinagawa:r05:0002", "otaru:r05:0001", "shinagawa:r05:0003"]  # 03-31 in
    assert _ids(tagged, date_from="2023-03-31", date_to="2023-03-31") == ["shinagawa:r05:0003"]
    assert "shinagawa:r05:0003" not in _ids(tagged, date_to="2023-03-30")
    assert _ids(tagged, date_from="2023-04-01", sort="date") == ["shinagawa:r05:0004", "x:0001"]
    # a year alone is the whole year
    assert _ids(tagged, date_from="2022", date_to="2022") == ["shinagawa:r04:0001"]
    assert _ids(tagged, date_from="2023", date_to="2023", sort="date") == [*q1, "shinagawa:r05:0004", "x:0001"]
    # undated utterances are in no range: left out, and counted
    found = find_utterances(tagged, topics=["privacy"], date_from="2023-01")
    assert "otaru:r05:0002" not in [r["id"] for r in found.records] and found.undated == 1
    code, rows, err = _cli(capsys, tagged, "--topic", "privacy", "--from", "2023-01")
    assert code == 0 and len(rows) == 4
    assert "left out 1 otherwise matching utterance(s) without a readable date" in err


def test_dates_read_as_timeline_reads_them(tmp_path):
    # full-width digits, a timestamp, a month without a day, and a date that is none
    rows = [_row("a", "品川区", "２０２３-０５-０２", []), _row("b", "品川区", "2023-05-03T10:00:00", []),
            _row("c", "品川区", "2023-06", []), _row("d", "品川区", "令和5年5月1日", [])]
    p = write_jsonl(tmp_path / "t.jsonl", rows)
    assert _ids(p, date_from="2023-05", date_to="2023-05") == ["a", "b"]
    assert _ids(p, date_from="2023-06-15") == ["c"]  # a month-only date overlaps a range inside its month
    assert _ids(p, sort="date") == ["a", "b", "c", "d"]  # unreadable: undated, last


def test_parquet_date_columns_are_written_as_iso_text(tmp_path, capsys):
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "municipality": ["品川区"] * 2,
                             "date": [datetime.date(2023, 5, 2), datetime.date(2024, 1, 5)],
                             "topics": [["dx"], []], "score_dx": [0.8, 0.1]}), p)
    code, rows, _ = _cli(capsys, p, "--from", "2024-01")
    assert code == 0 and [(r["id"], r["date"], r["speaker"]) for r in rows] == [("b", "2024-01-05", None)]


# --------------------------------------------------------------------------- order and limit


def test_score_order_highest_first_ties_by_date_then_id_undated_last(tagged):
    assert _ids(tagged, topics=["privacy"]) == [
        "shinagawa:r05:0001", "shinagawa:r05:0002",  # 0.9 on 2023-01-10: by id (the file has 0002 first)
        "otaru:r05:0002",  # 0.9, undated: after the dated ones
        "shinagawa:r05:0003", "otaru:r05:0001"]  # 0.8, 0.6
    # several topics: the highest score among them (0003: dx 0.85 > disaster's 0.0; x:0001: disaster 0.95)
    assert _ids(tagged, topics=["dx", "disaster"]) == ["x:0001", "shinagawa:r05:0003", "shinagawa:r04:0001"]


def test_date_order_ascending_undated_last_ties_by_id(tagged):
    assert _ids(tagged, topics=["privacy"], sort="date") == [
        "shinagawa:r05:0001", "shinagawa:r05:0002", "otaru:r05:0001", "shinagawa:r05:0003", "otaru:r05:0002"]
    assert _ids(tagged)[0] == "shinagawa:r04:0001" and _ids(tagged)[-1] == "otaru:r05:0002"  # no topic: by date


def test_limit_keeps_the_first_of_the_full_order_and_counts_every_match(tagged):
    whole = _ids(tagged, topics=["privacy"])
    for sort in ("score", "date"):
        full = find_utterances(tagged, topics=["privacy"], sort=sort)
        for n in (1, 2, 3, 10):
            found = find_utterances(tagged, topics=["privacy"], sort=sort, limit=n)
            assert found.records == full.records[:n] and found.matches == 5
    assert find_utterances(tagged, topics=["privacy"], limit=2).summary() == "2 of 5 matches"
    assert find_utterances(tagged, topics=["privacy"], limit=0).summary() == "5 matches"
    assert len(whole) == 5


def test_table_shows_scores_and_how_many_of_how_many(tagged, capsys, monkeypatch):
    assert main(["find", str(tagged), "--topic", "privacy", "--topic", "dx", "--format", "table",
                 "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "showing 2 of 6 matches (--limit 0 for all)" in out
    assert "privacy" in out and "dx" in out and "0.900*" in out and "区長" in out
    assert "個人情報の保護" in out  # the text (wrapped in its column: Japanese has no spaces)
    # by score, an untagged score shows without the mark: what the model almost tagged
    assert main(["find", str(tagged), "--topic", "privacy", "--min-score", "0.4", "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert "0.450 " in out and "0.450*" not in out and "6 matches; * = tagged" in out
    # without --topic: the tagged topics and their scores, or the strongest one of an utterance with none
    import train.cli.find_cmd as find_cmd

    monkeypatch.setattr(find_cmd.console, "width", 200)  # cells unwrapped
    assert main(["find", str(tagged), "--min-score", "0.4", "--format", "table", "--sort", "date"]) == 0
    out = capsys.readouterr().out
    assert "dx 0.85" in out and "privacy 0.80" in out and "(privacy 0.45)" in out and "(topic) = none tagged" in out


def test_table_default_limit_is_20_and_jsonl_writes_all(tmp_path, capsys):
    rows = [_row(f"s:{i:04d}", "品川区", f"2023-01-{i % 28 + 1:02d}", ["dx"], dx=0.5 + i / 100) for i in range(25)]
    p = write_jsonl(tmp_path / "t.jsonl", rows)
    assert main(["find", str(p), "--topic", "dx", "--format", "table"]) == 0
    assert "showing 20 of 25 matches" in capsys.readouterr().out
    code, found, err = _cli(capsys, p, "--topic", "dx")  # down a pipe: JSONL, every match
    assert code == 0 and len(found) == 25 and found[0]["id"] == "s:0024" and "wrote 25 matches" in err
    code, found, err = _cli(capsys, p, "--topic", "dx", "--limit", "3")
    assert [r["id"] for r in found] == ["s:0024", "s:0023", "s:0022"] and "wrote 3 of 25 matches" in err


# --------------------------------------------------------------------------- outputs


def test_jsonl_output_parses_back_to_full_records(tagged, tmp_path, capsys):
    out = tmp_path / "out" / "privacy.jsonl"
    code, _, err = _cli(capsys, tagged, "--topic", "privacy", "--assembly", "品川区", "--out", out)
    assert code == 0 and f"wrote 3 matches to {out}" in err
    rows = jsonl_rows(out)
    assert [r["id"] for r in rows] == ["shinagawa:r05:0001", "shinagawa:r05:0002", "shinagawa:r05:0003"]
    assert list(rows[0]) == ["id", "municipality", "date", "meeting", "speaker", "text", "source", "topics",
                             "score_dx", "score_privacy", "score_disaster"]
    # the scores tag-corpus wrote (Parquet's float32 0.8999999762 read back as 0.9)
    assert rows[0]["score_privacy"] == 0.9 and rows[2]["score_dx"] == 0.85 and rows[2]["topics"] == ["privacy", "dx"]
    assert rows[0]["text"] == ROWS[1]["text"] and rows[0]["speaker"] == ROWS[1]["speaker"]


def test_csv_file_has_a_bom_for_excel_and_parses_back(tagged, tmp_path, capsys):
    out = tmp_path / "privacy.csv"
    assert main(["find", str(tagged), "--topic", "privacy", "--out", str(out)]) == 0  # the format from the name
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads a CSV without it as Shift_JIS: mojibake
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == _ids(tagged, topics=["privacy"])
    assert rows[0]["municipality"] == "品川区" and rows[0]["topics"] == "privacy"
    assert rows[3]["topics"] == "privacy dx" and float(rows[0]["score_privacy"]) == 0.9
    assert rows[2]["date"] == "" and rows[2]["municipality"] == "小樽市"  # None: an empty cell
    # down a pipe no mark: it would be glued to the first column's name
    capsys.readouterr()
    assert main(["find", str(tagged), "--topic", "privacy", "--format", "csv"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("id,municipality,") and len(list(csv.DictReader(io.StringIO(text)))) == 5


def test_a_text_with_commas_quotes_and_newlines_survives_the_csv(tmp_path):
    rows = [_row("a", "品川区", "2023-01-01", ["dx"], text='一行目、"引用", そして\n二行目')]
    p = write_jsonl(tmp_path / "t.jsonl", rows)
    out = tmp_path / "o.csv"
    assert main(["find", str(p), "--out", str(out)]) == 0
    back = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"), newline="")))
    assert back[0]["text"] == rows[0]["text"]


def test_a_cell_a_spreadsheet_would_read_as_a_formula_gets_a_quote_in_the_csv_only(tmp_path, capsys):
    # was: written as it was, so Excel or LibreOffice opening the CSV ran a corpus text "=HYPERLINK(...)" or
    # "=cmd|..." as a formula (OWASP "CSV injection"); any text field of the corpus can start with one
    rows = [_row("=1+1", "@品川区", "2023-01-01", ["dx"], dx=0.9, privacy=-0.5, speaker="-山田", text="=1+1"),
            _row("b", "品川区", "2023-01-02", ["dx"], dx=0.8, speaker="+x", text="\t=cmd|' /C calc'!A0"),
            _row("c", "品川区", "2023-01-03", ["dx"], dx=0.7, text="\r@SUM(A1)"),
            _row("d", "品川区", "2023-01-04", ["dx"], dx=0.6, text="＝は全角、1=1 は途中")]
    p = write_jsonl(tmp_path / "t.jsonl", rows)
    out = tmp_path / "o.csv"
    assert main(["find", str(p), "--sort", "date", "--out", str(out)]) == 0
    text = out.read_bytes().decode("utf-8-sig")  # (read_text would turn the \r into \n)
    back = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["text"] for r in back] == ["'=1+1", "'\t=cmd|' /C calc'!A0", "'\r@SUM(A1)", "＝は全角、1=1 は途中"]
    assert [back[0][k] for k in ("id", "municipality", "speaker")] == ["'=1+1", "'@品川区", "'-山田"]
    assert back[1]["speaker"] == "'+x" and back[0]["date"] == "2023-01-01" and back[0]["topics"] == "dx"
    # numbers are not text from the corpus: a negative score stays a number, unquoted
    assert "\n'=1+1,'@品川区,2023-01-01,本会議,'-山田,'=1+1,x.jsonl,dx,0.9,-0.5,0.0\n" in text
    # down a pipe too (no byte-order mark there)
    capsys.readouterr()
    assert main(["find", str(p), "--sort", "date", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("'=1+1,'@品川区,")
    # JSONL holds the texts as they are: the quote is for spreadsheets only
    assert main(["find", str(p), "--sort", "date", "--out", str(tmp_path / "o.jsonl")]) == 0
    assert [r["text"] for r in jsonl_rows(tmp_path / "o.jsonl")] == [r["text"] for r in rows]
    assert jsonl_rows(tmp_path / "o.jsonl")[0]["score_privacy"] == -0.5


def test_a_carriage_return_inside_a_text_does_not_end_the_csv_row(tmp_path):
    # was: Python 3.11's csv writer left a cell holding a lone \r unquoted (with \n line ends): a reader ended the
    # row there, and the rest, "=HYPERLINK(...)" here, opened a row of its own as a cell no quote protected
    rows = [_row("a", "品川区", "2023-01-01", ["dx"], text='前半\r=HYPERLINK("http://x")'),
            _row("b", "品川区", "2023-01-02", ["dx"], text="二件目")]
    p = write_jsonl(tmp_path / "t.jsonl", rows)
    out = tmp_path / "o.csv"
    assert main(["find", str(p), "--sort", "date", "--out", str(out)]) == 0
    back = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline="")))
    assert [r["text"] for r in back] == [rows[0]["text"], "二件目"] and back[0]["score_dx"] == "0.1"
    assert out.read_bytes().count(b"\n") == 3  # the header and two rows, each ended by \n alone


# --------------------------------------------------------------------------- refusals: one line, nothing written


@pytest.mark.parametrize("args, message", [
    (["--topic", "privcy"], "--topic privcy: not a topic {tagged} was tagged with; expected one of dx, privacy, "
                            "disaster"),
    (["--from", "2023/01"], "--from 2023/01: expected a date as YYYY-MM-DD, YYYY-MM or YYYY"),
    (["--to", "2023-13"], "--to 2023-13: expected a date as YYYY-MM-DD, YYYY-MM or YYYY"),
    (["--to", "2023-02-30"], "--to 2023-02-30: expected a date as YYYY-MM-DD, YYYY-MM or YYYY"),
    (["--from", "23-01"], "--from 23-01: expected a date as YYYY-MM-DD, YYYY-MM or YYYY"),
    (["--from", "2023-05", "--to", "2023-04-30"], "--from 2023-05 is after --to 2023-04-30"),
    (["--limit", "-1"], "--limit -1: expected a whole number >= 0 (0 = all)"),
    (["--min-score", "1.5"], "--min-score 1.5: expected a score between 0 and 1"),
    (["--min-score", "-0.1"], "--min-score -0.1: expected a score between 0 and 1"),
    (["--sort", "size"], "--sort size: expected one of score, date"),
    (["--format", "xml"], "--format xml: expected one of table, jsonl, csv"),
    (["--contains", ""], "--contains: empty; expected some text"),
    (["--assembly", "品川"], "--assembly 品川: no utterance of that assembly in {tagged}; expected one of "
                            "(unknown), 品川区, 小樽市"),
    (["--topic", "disaster", "--assembly", "小樽市"], "no utterance of {tagged} matches --topic disaster --assembly "
                                                     "小樽市; nothing was written"),
])
def test_bad_input_is_one_line_and_writes_nothing(tagged, tmp_path, capsys, args, message):
    out = tmp_path / "found.jsonl"
    for where in (["--out", str(out)], []):
        assert main(["find", str(tagged), *args, *where]) == 1
        captured = capsys.readouterr()
        assert message.format(tagged=tagged) in captured.err and "Traceback" not in captured.err
        assert captured.err.count("\n") == 1 and captured.out == ""
        assert not out.exists()


def test_no_match_leaves_an_earlier_out_as_it_was(tagged, tmp_path):
    out = tmp_path / "found.csv"
    assert main(["find", str(tagged), "--topic", "dx", "--out", str(out)]) == 0
    before = out.read_bytes()
    assert main(["find", str(tagged), "--topic", "dx", "--speaker", "存在しない", "--out", str(out)]) == 1
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


@pytest.mark.parametrize("args, message", [
    (["--out", "{tagged}"], "--out {tagged}: is the input {tagged}; writing it would destroy the input"),
    (["--format", "table", "--out", "{tmp}/x.csv"], "--format table is printed to the terminal"),
    (["--out", "{tmp}/x.txt"], "cannot tell the format from the name; expected a .jsonl or .csv name"),
    (["--format", "csv", "--out", "{tmp}/x.jsonl"], "a .jsonl name for --format csv"),
    (["--out", "{tmp}/dir.csv"], "--out {tmp}/dir.csv: is a folder"),
])
def test_bad_out_is_refused_before_any_work(tagged, tmp_path, capsys, args, message):
    (tmp_path / "dir.csv").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    data = tagged.read_bytes()
    fill = {"tagged": tagged, "tmp": tmp_path}
    assert main(["find", str(tagged), *(a.format(**fill) for a in args)]) == 1
    err = capsys.readouterr().err
    assert message.format(**fill) in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before and tagged.read_bytes() == data


def test_files_that_are_no_tagged_corpus_are_refused(tmp_path, capsys, fixtures):
    garbage = tmp_path / "g.parquet"
    folder = tmp_path / "folder.parquet"
    folder.mkdir()
    garbage.write_bytes(b"not parquet at all")
    cases = {
        tmp_path / "missing.parquet": "no such file; run `gikai-topics tag-corpus` first",
        folder: "is a folder; expected the .parquet or .jsonl file that tag-corpus wrote",
        garbage: "not a readable Parquet file",
        fixtures / "corpus_sample.jsonl": "not a tag-corpus output line",  # the corpus itself, not tagged
        write_jsonl(tmp_path / "hand.jsonl", [{"municipality": "品川区", "date": "2024-01-05", "topics": ["dx"]}]):
            "no score_<topic> keys (or no utterance): not a file tag-corpus wrote",
        write_jsonl(tmp_path / "empty.jsonl", []): "no score_<topic> keys (or no utterance)",
        write_jsonl(tmp_path / "half.jsonl", [ROWS[0], {**ROWS[1], "score_dx": None}]):
            "half.jsonl:2: 'score_dx' is null; expected a number",
    }
    for path, message in cases.items():
        out = tmp_path / "o.jsonl"
        assert main(["find", str(path), "--out", str(out)]) == 1, path
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, (path, err)
        assert not out.exists()


def test_the_library_returns_an_empty_result_and_raises_its_own_errors(tagged):
    found = find_utterances(tagged, topics=["disaster"], assembly="小樽市")
    assert found.records == [] and found.matches == 0 and found.summary() == "0 matches"
    with pytest.raises(InputError, match="no utterance of .* matches --topic disaster --assembly 小樽市"):
        find_utterances(tagged, topics=["disaster"], assembly="小樽市", require_match=True)
    with pytest.raises(InputError, match="--limit -2"):
        find_utterances(tagged, limit=-2)


# --------------------------------------------------------------------------- a real tag-corpus output


@pytest.mark.parametrize("suffix", ["parquet", "jsonl"])
def test_find_on_a_real_tag_corpus_output_agrees_with_reading_it_by_hand(corpus, tmp_path, trained_model_dir,
                                                                         capsys, suffix):
    from train.tagging import tag_corpus
    from train.tagged import scored_topics

    tagged = tmp_path / f"t.{suffix}"
    tag_corpus([corpus], tagged, model=str(trained_model_dir), jobs=1)
    if suffix == "parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(tagged).to_pylist()
    else:
        rows = jsonl_rows(tagged)
    topic = max(scored_topics(tagged), key=lambda t: sum(t in r["topics"] for r in rows))  # the most tagged
    want = sorted((r for r in rows if topic in r["topics"]),
                  key=lambda r: (-round(r[f"score_{topic}"], 5), r["date"] is None, r["date"] or "", r["id"]))
    code, found, err = _cli(capsys, tagged, "--topic", topic)
    assert code == 0 and [r["id"] for r in found] == [r["id"] for r in want] and len(want) >= 1
    assert all(r[f"score_{topic}"] == round(w[f"score_{topic}"], 5) for r, w in zip(found, want))
    assert main(["find", str(tagged), "--topic", topic, "--format", "table", "--limit", "1"]) == 0
    shown = f"showing 1 of {len(want)} matches" if len(want) > 1 else "1 match"
    assert shown in capsys.readouterr().out


def test_a_lone_surrogate_is_refused_in_files_and_escaped_in_the_table(tmp_path, capsys):
    # a hand-edited tagged file can hold "\ud800" (JSON allows the escape); UTF-8 cannot: one line, no traceback
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(_row("a", "品川区", "2023-01-01", ["dx"], text="防災\ud800訓練")) + "\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main(["find", str(p), "--out", str(out)]) == 1
    assert "utterance a: field 'text' holds a lone surrogate" in capsys.readouterr().err and not out.exists()
    assert main(["find", str(p), "--format", "table"]) == 0
    assert "防災\\ud800訓練" in capsys.readouterr().out


# --------------------------------------------------------------------------- streaming


def test_a_parquet_file_is_read_one_row_group_at_a_time(tmp_path):
    # tag-corpus writes a row group per chunk; read over the whole file, pyarrow's batches read groups ahead and
    # decoded most of a 100k-utterance file (~400 MB with the texts) before find kept its first 20 rows
    import pyarrow as pa
    import pyarrow.parquet as pq

    from train.tagged import read_tagged

    n = 2000
    table = pa.table({"id": [f"s:{i:05d}" for i in range(n)], "municipality": ["品川区"] * n,
                      "date": ["2023-01-01"] * n, "topics": [["dx"]] * n,
                      "text": [f"{i:05d}" + "議会" * 500 for i in range(n)], "score_dx": [0.5] * n})
    p = tmp_path / "t.parquet"
    pq.write_table(table, p, row_group_size=100)
    size = table.nbytes
    del table
    before = pa.total_allocated_bytes()
    rows = read_tagged(p, ["id", "text"])
    assert next(rows)[3] == "s:00000"
    assert pa.total_allocated_bytes() - before < size / 4  # a group or two, not the file
    assert sum(1 for _ in rows) == n - 1
    assert _ids(p, limit=3, sort="date") == ["s:00000", "s:00001", "s:00002"]


# --------------------------------------------------------------------------- review: refusals


@pytest.mark.parametrize("value", ["", ",", " "])
def test_an_empty_topic_is_refused_not_read_as_no_topic(tagged, tmp_path, capsys, value):
    # `--topic "$TOPIC"` with the variable unset found every utterance (by date) as if no --topic had been given
    out = tmp_path / "found.jsonl"
    assert main(["find", str(tagged), "--topic", value, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"--topic {value!r}: empty; expected a topic {tagged} was tagged with: one of dx, privacy, disaster" in err
    assert err.count("\n") == 1 and not out.exists()
    with pytest.raises(InputError, match="empty"):
        find_utterances(tagged, topics=["dx", value])
    assert _ids(tagged, topics=["dx,"]) == _ids(tagged, topics=["dx"])  # a stray comma in a list is no topic asked


# --------------------------------------------------------------------------- review: the table on a narrow terminal


@pytest.mark.parametrize("width", [60, 80, 100])
@pytest.mark.parametrize("topics", [[], ["privacy"], ["privacy", "dx"], ["privacy", "dx", "disaster"]])
def test_the_table_never_outgrows_the_terminal(tmp_path, capsys, monkeypatch, width, topics):
    # rich kept the text column's minimum width (20) even when the table then outgrew the terminal: 85 columns on
    # an 80-column one with two topics, each line wrapped by the terminal into a garbled table
    from rich.cells import cell_len

    import train.cli.find_cmd as find_cmd

    rows = [*ROWS, _row("long:1", "とても長い名前の架空の自治体議会連合", "2023-07-01", ["dx"], dx=0.7,
                        speaker="○議会運営委員会委員長" * 3 + "（山田太郎君）", text="ＤＸの推進について" * 20)]
    p = write_jsonl(tmp_path / "t.jsonl", rows)
    monkeypatch.setattr(find_cmd.console, "width", width)
    assert main(["find", str(p), *(f"--topic={t}" for t in topics), "--min-score", "0", "--format", "table",
                 "--limit", "0"]) == 0  # (every row)
    table = capsys.readouterr().out.splitlines()[:-1]  # (the last line is the summary)
    assert max(cell_len(line) for line in table) <= width
    # the text keeps most of the room: a long assembly name no longer squeezes it (nor speaker, topics) to nothing
    # (three score columns leave 60 columns no room for it: 10 for the date, 3 a column for the borders)
    text = "".join(line.split("│")[-2].strip() for line in table if line.startswith("│"))
    if width > 60 or len(topics) < 3:
        assert "ＤＸの推進について" in text and "防災訓練について" in text


def test_the_topics_cell_lists_a_topic_a_line():
    # on one line it wrapped between a topic and its score: "environment 0.41 privacy" / "0.31"
    from train.find_output import topics_cell

    record = {"topics": ["privacy", "dx"], "score_dx": 0.85, "score_privacy": 0.8, "score_disaster": 0.0}
    assert topics_cell(record, IDS) == "dx 0.85\nprivacy 0.80"
    assert topics_cell({**record, "topics": []}, IDS) == "(dx 0.85)"


def test_fit_widths_narrows_the_text_then_the_widest_others_down_to_their_floors():
    from train.find_output import fit_widths

    assert fit_widths([10, 8, 16, 160], 200, [10, 6, 8, 2]) == [10, 8, 16, 160]  # room for everything
    assert fit_widths([10, 8, 16, 160], 60, [10, 6, 8, 2]) == [10, 8, 16, 26]  # the text first, down to 24+
    assert fit_widths([10, 8, 16, 160], 50, [10, 6, 8, 2]) == [10, 8, 8, 24]  # then the widest other
    assert fit_widths([10, 8, 16, 160], 40, [10, 6, 8, 2]) == [10, 6, 8, 16]  # then the text again
    assert fit_widths([10, 8, 16, 160], 20, [10, 6, 8, 2]) == [10, 6, 8, 2]  # the floors hold


def test_the_table_text_shows_a_contains_match_written_in_half_width_kana(tmp_path, capsys, monkeypatch):
    # --contains ガス finds ｶﾞｽ (NFKC makes ガ of ｶ and ﾞ), but the snippet looked for it character by character,
    # where ﾞ alone is a combining mark: it showed the text's start, without the match
    import train.cli.find_cmd as find_cmd
    from train.find_output import snippet

    text = "あ" * 100 + "ｶﾞｽ料金の値上げについて" + "い" * 100
    assert "ｶﾞｽ料金" in snippet(text, "ガス", 40)
    assert "か\u3099す" in snippet("あ" * 100 + "か\u3099す" + "い" * 100, "がす", 20)  # a mark after its letter
    p = write_jsonl(tmp_path / "t.jsonl", [_row("a", "小樽市", "2023-01-01", ["dx"], text=text)])
    monkeypatch.setattr(find_cmd.console, "width", 200)
    assert main(["find", str(p), "--contains", "ガス", "--format", "table"]) == 0
    assert "ｶﾞｽ料金の値上げについて" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["texts", "header"])
def test_a_damaged_parquet_page_names_the_file(tmp_path, capsys, where):
    # a damaged page deep in the file said only 'error: Corrupt snappy compressed data.' (of which file?), or, in
    # a page header, 'Couldn't deserialize thrift: ...' over two lines
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [_row(f"s:{i:04d}", "品川区", "2023-01-10", ["dx"], dx=0.7, text=f"{i}番目の発言です。" * 50)
            for i in range(200)]
    p = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pylist(rows), p, row_group_size=100, use_dictionary=False)
    text = pq.ParquetFile(p).metadata.row_group(1).column(5)  # the texts of rows 101-200
    assert text.path_in_schema == "text"
    data = bytearray(p.read_bytes())
    start = text.data_page_offset + (text.total_compressed_size // 2 if where == "texts" else 10)
    data[start:start + 200] = b"\xff" * 200
    p.write_bytes(bytes(data))
    out = tmp_path / "o.jsonl"
    assert main(["find", str(p), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{p}: not a readable Parquet file (from row 101: " in err and err.count("\n") == 1
    assert "Traceback" not in err and not out.exists()


def test_a_line_cut_short_says_so(tmp_path, capsys):
    # a tagged JSONL file cut short (a copy interrupted) said only 'not a tag-corpus output line', as for a file of
    # another kind; the JSON error says it is damaged and where, also when the cut fell inside a character
    line = json.dumps(ROWS[0], ensure_ascii=False).encode("utf-8")
    cut = line[:line.index("個人情報".encode("utf-8")) + 4]  # inside 人
    for tail, why in ((cut, "malformed JSON (Unterminated string"), (line.replace("区".encode(), b"\xff"), "not UTF-8")):
        p = tmp_path / "t.jsonl"
        p.write_bytes(line + b"\n" + line + b"\n" + tail + b"\n")
        assert main(["find", str(p), "--format", "jsonl"]) == 1
        captured = capsys.readouterr()
        assert f"{p}:3: not a tag-corpus output line: {why}" in captured.err and captured.err.count("\n") == 1
        assert captured.out == ""


def test_the_table_headers_are_whole_on_an_80_column_terminal(tagged, capsys, monkeypatch):
    import train.cli.find_cmd as find_cmd

    monkeypatch.setattr(find_cmd.console, "width", 80)
    assert main(["find", str(tagged), "--topic", "privacy,dx", "--format", "table"]) == 0
    header = next(line for line in capsys.readouterr().out.splitlines() if "date" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == ["date", "assembly", "speaker", "privacy", "dx",
                                                                   "text"]


def test_an_empty_tagged_parquet_file_is_said_to_be_empty(tmp_path, capsys):
    # it said 'no utterance of t.parquet matches anything', as if the filters were to blame
    p = _write_parquet(tmp_path / "t.parquet", [])
    for args in ([], ["--topic", "dx", "--assembly", "品川区"]):
        assert main(["find", str(p), *args, "--out", str(tmp_path / "o.csv")]) == 1
        err = capsys.readouterr().err
        assert f"{p}: holds no utterance; expected a tag-corpus output of at least one" in err
        assert err.count("\n") == 1 and not (tmp_path / "o.csv").exists()
    found = find_utterances(p)  # the library: an empty result
    assert found.records == [] and found.matches == 0


def test_a_corpus_file_given_for_the_tagged_one_says_what_was_expected(tmp_path, capsys):
    # `find seeds/otaru.jsonl.gz` (the corpus, not its tags) said only "not a readable Parquet file (...)"
    import gzip

    p = tmp_path / "otaru.jsonl.gz"
    p.write_bytes(gzip.compress(json.dumps(ROWS[0], ensure_ascii=False).encode("utf-8") + b"\n"))
    assert main(["find", str(p)]) == 1
    err = capsys.readouterr().err
    assert f"{p}: not a readable Parquet file (" in err and err.count("\n") == 1
    assert err.rstrip().endswith("; expected the .parquet or .jsonl file that tag-corpus wrote")


def test_a_snippet_whose_match_it_cannot_place_starts_at_the_text_start():
    # "個人  情報" (two spaces) is found by --contains, but the snippet squeezes the text's spaces and cannot place
    # it: it shows the text from its start (a variable of the loop over characters once moved it to the end)
    from train.find_output import snippet

    text = "始め" + "あ" * 100 + "個人  情報" + "い" * 100
    assert snippet(text, "個人  情報", 20) == "始め" + "あ" * 18 + "…"
    assert snippet(text, "情報", 20).startswith("…") and "情報" in snippet(text, "情報", 20)
