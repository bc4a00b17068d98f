"""The eighth review's findings on timeline, corpus stats / sample and the Dask connection."""

from __future__ import annotations

import csv
import io

import pytest

from conftest import write_jsonl
from train.cli import main
from train.errors import InputError
from train.timeline import compute_timeline, to_csv, write_timeline

ROW = {"municipality": "品川区", "date": "2024-01-05", "topics": ["dx"]}


# --------------------------------------------------------------------------- timeline outputs


@pytest.mark.parametrize("blocked", ["timeline-month.csv", "timeline-month.png"])
def test_timeline_checks_the_files_it_writes_before_writing_either(tmp_path, capsys, blocked):
    # was: the check looked at timeline.csv, a name never written; a folder at timeline-month.png gave an
    # IsADirectoryError traceback after timeline-month.csv had already been replaced
    tagged = write_jsonl(tmp_path / "t.jsonl", [ROW])
    out = tmp_path / "tl"
    (out / blocked).mkdir(parents=True)
    assert main(["timeline", str(tagged), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{blocked}: is a folder" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == [blocked]


def test_the_csv_file_has_a_bom_for_excel_and_an_assembly_read_as_a_formula_gets_a_quote(tmp_path):
    # was: no byte-order mark (Excel read 品川区 as Shift_JIS: mojibake, while find's CSV had one), and an assembly
    # name from the corpus starting with = + - @ was written as it was: a formula to Excel (OWASP "CSV injection")
    rows = [ROW, {**ROW, "municipality": "=1+1"}, {**ROW, "municipality": "-x", "topics": []}]
    tagged = write_jsonl(tmp_path / "t.jsonl", rows)
    assert main(["timeline", str(tagged), "--out", str(tmp_path / "tl")]) == 0
    data = (tmp_path / "tl" / "timeline-month.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfassembly,period,utterances,")
    back = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [(r["assembly"], r["period"], r["utterances"], r["dx"]) for r in back] == [
        ("'-x", "2024-01", "1", "0.0"), ("'=1+1", "2024-01", "1", "1.0"), ("品川区", "2024-01", "1", "1.0")]
    # the counts and shares are numbers, unquoted; the CSV text alone has no mark (the file gets it)
    assert to_csv([{"assembly": "+x", "period": "2024-01", "utterances": 3, "dx": -0.5}], ["dx"]) == (
        "assembly,period,utterances,dx\n'+x,2024-01,3,-0.5\n")


# --------------------------------------------------------------------------- what a row's topics count

IDS = ["dx", "privacy", "urban"]


def test_a_topic_listed_twice_tags_the_utterance_once():
    # was: ["dx", "dx"] counted twice: a share of 2.0 (200 % of utterances)
    rows = [("品川区", "2024-01-05", ["dx", "dx"]), ("品川区", "2024-01-06", [])]
    assert compute_timeline(rows, "month", IDS)[0]["dx"] == 0.5


def test_topics_outside_the_taxonomy_are_refused_not_counted_as_zero():
    # was: a topic id the taxonomy lacks (a model of another taxonomy) was skipped: every share 0.0, exit 0
    with pytest.raises(InputError, match="topic 'digital' .* is not in the taxonomy"):
        compute_timeline([("品川区", "2024-01-05", ["digital"])], "month", IDS)


def test_a_file_tagged_with_other_topics_than_the_taxonomy_is_refused(tmp_path, capsys):
    # a model without 'urban' (the taxonomy grew after it was trained): urban's 0.0 would be "never tagged",
    # not "never said"; its score columns tell which topics it knew
    scores = {"score_dx": 0.9, "score_privacy": 0.1}
    tagged = write_jsonl(tmp_path / "t.jsonl", [{**ROW, **scores}])
    with pytest.raises(InputError, match=r"not tagged: urban; not in the taxonomy: -"):
        write_timeline(tagged, tmp_path / "tl", by="month", topic_ids=IDS)
    assert not (tmp_path / "tl").exists()
    write_jsonl(tagged, [{**ROW, **scores, "score_urban": 0.0}])
    assert write_timeline(tagged, tmp_path / "tl", by="month", topic_ids=IDS)["rows"] == 1


def test_parquet_score_columns_are_checked_and_null_topics_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from train.tagged import read_tagged

    p = tmp_path / "t.parquet"
    base = {"municipality": ["品川区", "品川区"], "date": ["2024-01-05", "2024-01-06"]}
    pq.write_table(pa.table({**base, "topics": [["dx"], []], "score_dx": [0.9, 0.1], "score_gone": [0.0, 0.0]}), p)
    with pytest.raises(InputError, match="not tagged: privacy, urban; not in the taxonomy: gone"):
        write_timeline(p, tmp_path / "tl", by="month", topic_ids=IDS)
    # was: a null 'topics' (untagged) counted as an utterance with no topic, halving dx's share here
    pq.write_table(pa.table({**base, "topics": pa.array([["dx"], None], pa.list_(pa.string()))}), p)
    with pytest.raises(InputError, match="row 2: 'topics' is null"):
        list(read_tagged(p))
    assert not (tmp_path / "tl").exists()


# --------------------------------------------------------------------------- undated rows, assemblies


def test_undated_utterances_are_reported_not_silently_dropped(tmp_path, capsys):
    # was: exit 0 and only "1 assembly-periods": two utterances of three were in no period, and nothing said so
    tagged = write_jsonl(tmp_path / "t.jsonl", [ROW, {**ROW, "date": None}, {**ROW, "date": "R6.1.5"}])
    assert main(["timeline", str(tagged), "--out", str(tmp_path / "tl")]) == 0
    assert "left out 2 utterance(s) without a readable YYYY-MM date" in capsys.readouterr().err
    assert "品川区,2024-01,1," in (tmp_path / "tl" / "timeline-month.csv").read_text(encoding="utf-8-sig")


def test_the_unknown_assembly_shown_in_the_csv_can_be_selected_and_a_typo_names_the_assemblies(tmp_path, capsys):
    tagged = write_jsonl(tmp_path / "t.jsonl", [ROW, {**ROW, "municipality": None}])
    # was: the CSV showed "(unknown)", but --assembly '(unknown)' found "no dated utterances"
    assert main(["timeline", str(tagged), "--assembly", "(unknown)", "--out", str(tmp_path / "tl")]) == 0
    lines = (tmp_path / "tl" / "timeline-month.csv").read_text(encoding="utf-8-sig").splitlines()
    assert [line.split(",")[:3] for line in lines[1:]] == [["(unknown)", "2024-01", "1"]]
    assert main(["timeline", str(tagged), "--assembly", "shinagawa", "--out", str(tmp_path / "tl2")]) == 1
    assert "--assembly shinagawa: no utterance of that assembly" in capsys.readouterr().err
    assert not (tmp_path / "tl2").exists()


def test_parquet_date_and_timestamp_columns_are_dates(tmp_path):
    # was: a `date` column of Parquet type date32 or timestamp (pandas writes one after pd.to_datetime) made
    # every utterance undated: "no dated utterances to plot"
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    from train.tagged import read_tagged

    p = tmp_path / "t.parquet"
    dates = {"date32": [datetime.date(2024, 1, 5), datetime.date(2024, 4, 1)],
             "timestamp": [datetime.datetime(2024, 1, 5, 10), datetime.datetime(2024, 4, 1)]}
    for kind, values in dates.items():
        pq.write_table(pa.table({"municipality": ["品川区"] * 2, "date": values, "topics": [["dx"], []]}), p)
        out = compute_timeline(read_tagged(p), "quarter", IDS)
        assert [(r["period"], r["utterances"], r["dx"]) for r in out] == [("2024-Q1", 1, 1.0), ("2024-Q2", 1, 0.0)]


# --------------------------------------------------------------------------- corpus stats


def test_corpus_stats_first_and_last_dates_ignore_dates_that_are_not_iso(tmp_path):
    # was: last date '令和元年5月1日' (and '2019/2/26' after '2019-05-01'): dates compared as text
    from train.corpus_tools import corpus_stats

    rows = [{"id": "a", "text": "一", "municipality": "品川区", "date": "2019-05-01"},
            {"id": "b", "text": "二", "municipality": "品川区", "date": "2019/2/26"},
            {"id": "c", "text": "三", "municipality": "品川区", "date": "令和元年5月1日"},
            {"id": "d", "text": "四", "municipality": "品川区", "date": "2018-04-01"}]
    a = corpus_stats([write_jsonl(tmp_path / "c.jsonl", rows)]).assemblies["品川区"]
    assert (a.records, a.first_date, a.last_date) == (4, "2018-04-01", "2019-05-01")


# --------------------------------------------------------------------------- Dask addresses


def test_dask_address_of_another_scheme_is_a_one_line_error():
    # was: a TypeError traceback (TLS expects an ssl_context; ucx:// likewise, UCXConnector is abstract)
    from train.cluster import connect

    with pytest.raises(InputError, match="--dask tls://127.0.0.1:1: cannot reach the Dask scheduler"):
        connect("tls://127.0.0.1:1", 1)


# --------------------------------------------------------------------------- the figure's time axis


def test_the_figure_time_axis_keeps_periods_without_utterances():
    # was: the x axis held only periods with data, so 2020-06 and 2022-01 (東京都 ends, 品川区 begins in
    # seeds/) were drawn as neighbours: a gap of 19 months looked like one
    from train.timeline import axis_periods, plot

    assert axis_periods({"2022-01", "2020-06"}, "month") == [f"2020-{m:02d}" for m in range(6, 13)] + [
        f"2021-{m:02d}" for m in range(1, 13)] + ["2022-01"]
    assert axis_periods({"2019-Q4", "2021-Q1"}, "quarter") == ["2019-Q4", "2020-Q1", "2020-Q2", "2020-Q3",
                                                                 "2020-Q4", "2021-Q1"]
    assert axis_periods({"2021", "2019"}, "year") == ["2019", "2020", "2021"]
    rows = compute_timeline([("東京都", "2020-06-01", ["dx"]), ("品川区", "2022-01-05", [])], "month", IDS)
    assert plot(rows, IDS, "month")[:4] == b"\x89PNG"


# --------------------------------------------------------------------------- corpus sample


def test_corpus_sample_refuses_an_assembly_that_is_not_in_the_corpus(fixtures, tmp_path, capsys):
    # was: exit 0, "wrote 0 utterances" and an empty file for 品川 (a typo of 品川区)
    out = tmp_path / "s.jsonl"
    args = ["corpus", "sample", str(fixtures / "corpus_sample.jsonl"), "--n", "3", "--out", str(out)]
    assert main([*args, "--assembly", "品川"]) == 1
    assert "--assembly 品川: no utterance of that assembly in the corpus" in capsys.readouterr().err
    assert not out.exists()
    assert main([*args, "--assembly", "otaru"]) == 0  # an id prefix still selects
    # a filter matching nothing is no typo, but like grep it fails (tenth session): it leaves --out as it was
    before = out.read_bytes()
    assert main([*args, "--assembly", "小樽市", "--grep", "存在しない語句"]) == 1 and out.read_bytes() == before


def test_full_width_digits_in_a_date_fall_in_the_same_period_as_ascii_ones(tmp_path):
    # was: '２０１９-０５-０１' made a period '２０１９-05' of its own, beside 2019-05: one month, two rows
    # (and corpus stats sorted it after every ASCII date)
    from train.corpus_tools import corpus_stats

    rows = [("品川区", "２０１９-０５-０１", ["dx"]), ("品川区", "2019-05-02", [])]
    assert [(r["period"], r["utterances"], r["dx"]) for r in compute_timeline(rows, "month", IDS)] == [
        ("2019-05", 2, 0.5)]
    assert [r["period"] for r in compute_timeline(rows, "year", IDS)] == ["2019"]
    corpus = write_jsonl(tmp_path / "c.jsonl", [{"id": i, "text": i, "municipality": "品川区", "date": d}
                                                for i, d in (("a", "２０１９-０５-０１"), ("b", "2020-01-01"))])
    assert corpus_stats([corpus]).assemblies["品川区"].last_date == "2020-01-01"
