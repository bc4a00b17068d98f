"""`labels select`: the labels whose words may touch a guideline row, listed for readers to re-read against it
(words choose what is read; readers decide, and `labels revise` applies their answers)."""

import re

import pytest

from conftest import fixture_label_rows, jsonl_rows, write_jsonl
from train.cli import main
from train.errors import InputError
from train.labeling.select import READER_FIELDS, parse_patterns, select_labels
from train.labeling.store import read_labels


def _cli(labels_dir, out, *extra):
    return main(["labels", "select", "--labels", str(labels_dir), "--out", str(out), *extra])


def _matching(pattern: str, *, with_topics=False, assembly=None) -> set[str]:
    """The oracle: a plain scan of the fixture's texts."""
    return {r["id"] for r in fixture_label_rows() if re.search(pattern, r["text"])
            and (r["topics"] or not with_topics) and (assembly is None or r.get("municipality") == assembly)}


def test_every_matching_label_is_listed_once_with_the_rows_it_matched(labels_dir, tmp_path, capsys):
    out = tmp_path / "review" / "select.jsonl"
    assert _cli(labels_dir, out, "--match", "privacy_rows=個人情報", "--match", "nursery=保育|待機児童") == 0
    rows = jsonl_rows(out)
    by_id = {r["id"]: r for r in fixture_label_rows()}
    assert {r["id"] for r in rows} == _matching("個人情報") | _matching("保育|待機児童") and len(rows) == len(
        {r["id"] for r in rows})
    for line in rows:
        label = by_id[line["id"]]
        assert tuple(line) == READER_FIELDS
        assert line["current_topics"] == label["topics"] and line["text"] == label["text"]
        assert line["speaker"] == label.get("speaker") and line["municipality"] == label.get("municipality")
        expect = [n for n, p in (("privacy_rows", "個人情報"), ("nursery", "保育|待機児童")) if re.search(p, label["text"])]
        assert line["rows_to_check"] == expect
    err = capsys.readouterr().err
    assert f"{len(rows)} of 67 labels match at least one pattern" in err and "privacy_rows 4" in err
    assert f"wrote {len(rows)} label(s), shuffled, to {out}" in err and "labels revise ANSWERS.tsv" in err


def test_the_same_labels_and_seed_give_the_same_file_whatever_the_files_order(labels_dir, tmp_path):
    rows = fixture_label_rows()
    split = tmp_path / "split"
    split.mkdir()
    write_jsonl(split / "a.jsonl", rows[40:])
    write_jsonl(split / "b.jsonl", rows[:40])
    first, again, other = tmp_path / "1.jsonl", tmp_path / "2.jsonl", tmp_path / "3.jsonl"
    assert _cli(labels_dir, first, "--match", "any=ます") == 0
    assert _cli(split, again, "--match", "any=ます") == 0
    assert _cli(labels_dir, other, "--match", "any=ます", "--seed", "7") == 0
    assert first.read_bytes() == again.read_bytes()
    assert [r["id"] for r in jsonl_rows(first)] != [r["id"] for r in jsonl_rows(other)]  # shuffled by the seed
    assert sorted(r["id"] for r in jsonl_rows(first)) == sorted(r["id"] for r in jsonl_rows(other))


def test_filters_assembly_with_topics_exclude_and_size(labels_dir, tmp_path):
    labels = read_labels(labels_dir)[0]
    pats = parse_patterns(["any=ます"])
    every = _matching("ます")
    assert _matching("ます", with_topics=True) < every  # the fixture has matching labels with no topic

    run = select_labels(labels, pats, with_topics=True)
    assert {s.example.id for s in run.selected} == _matching("ます", with_topics=True)
    assert run.without_topics == len(every) - len(_matching("ます", with_topics=True)) and run.matched == len(every)

    run = select_labels(labels, pats, assemblies=["東京都"])
    assert {s.example.id for s in run.selected} == _matching("ます", assembly="東京都") and run.labels == 18

    read = sorted(every)[:5]
    answers = tmp_path / "earlier" / "answers.tsv"
    answers.parent.mkdir()
    answers.write_text("".join(f"{i}\tdx\tunchanged\n" for i in read), encoding="utf-8")
    run = select_labels(labels, pats, exclude=[answers.parent])
    assert {s.example.id for s in run.selected} == every - set(read) and run.excluded == 5

    run = select_labels(labels, pats, size=3, seed=1)
    assert len(run.selected) == 3 and run.beyond_size == len(every) - 3
    assert {s.example.id for s in run.selected} <= every


def test_a_patterns_file_and_match_together(labels_dir, tmp_path):
    patterns = tmp_path / "rows.toml"
    patterns.write_text("# the fifteenth-session block\nprivacy_rows = '個人情報'\nnursery = \"保育\"\n",
                        encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert _cli(labels_dir, out, "--patterns", str(patterns), "--match", "disaster=防災|避難") == 0
    names = {n for r in jsonl_rows(out) for n in r["rows_to_check"]}
    assert names == {"privacy_rows", "nursery", "disaster"}
    assert list(parse_patterns(["disaster=防災"], patterns)) == ["privacy_rows", "nursery", "disaster"]


@pytest.mark.parametrize("args, said", [
    ([], "expected at least one pattern: --match NAME=REGEX"),
    (["--match", "個人情報"], "expected NAME=REGEX, a row name and the words that may touch it"),
    (["--match", "=個人情報"], "expected a row name of letters, digits"),
    (["--match", "a b=個人情報"], "expected a row name of letters, digits"),
    (["--match", "x="], "expected a regular expression (a non-empty string) for 'x'"),
    (["--match", "x=保育(園"], "'x' is not a valid regular expression at position 2 (missing ), unterminated"),
    (["--match", "x=保育|"], "'x' matches the empty text ('保育|'), so it would select every label"),
    (["--match", "x=保育", "--match", "x=防災"], "the row name 'x' is given twice"),
    (["--match", "x=保育", "--assembly", "大阪市"], "--assembly: expected assemblies of the labels (品川区 (47)"),
    (["--match", "x=保育", "--size", "0"], "--size: expected how many labels to list at most"),
    (["--match", "x=存在しない語句"], "expected labels to list, found none: no label of 67 matches the patterns"),
])
def test_bad_input_is_refused_and_nothing_is_written(labels_dir, tmp_path, capsys, args, said):
    out = tmp_path / "out.jsonl"
    assert _cli(labels_dir, out, *args) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert said in err, err
    assert not out.exists()


def test_bad_patterns_files_are_refused(labels_dir, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    cases = {"missing.toml": None, "bad.toml": "x = '保育\n", "number.toml": "x = 3\n", "empty.toml": "# none\n"}
    said = {"missing.toml": "no such file", "bad.toml": "not valid TOML", "number.toml": "expected a regular "
            "expression (a non-empty string) for 'x', found 3", "empty.toml": "holds no pattern"}
    for name, text in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text, encoding="utf-8")
        assert _cli(labels_dir, out, "--patterns", str(path)) != 0
        assert said[name] in " ".join(capsys.readouterr().err.split()), name
        assert not out.exists()


def test_out_may_not_be_among_the_labels_or_the_inputs(labels_dir, tmp_path, capsys):
    before = (labels_dir / "labels.jsonl").read_bytes()
    patterns = tmp_path / "rows.toml"
    patterns.write_text("x = '保育'\n", encoding="utf-8")
    for out in (labels_dir / "select.jsonl", labels_dir / "labels.jsonl", patterns):
        assert _cli(labels_dir, out, "--patterns", str(patterns)) != 0
        assert "--out" in capsys.readouterr().err
    assert not (labels_dir / "select.jsonl").exists() and (labels_dir / "labels.jsonl").read_bytes() == before
    assert patterns.read_text(encoding="utf-8") == "x = '保育'\n"


def test_readers_answers_to_the_file_go_back_through_revise(labels_dir, tmp_path):
    out = tmp_path / "select.jsonl"
    assert _cli(labels_dir, out, "--match", "privacy_rows=個人情報") == 0
    rows = jsonl_rows(out)
    first = rows[0]
    decided = ["administration"] if first["current_topics"] != ["administration"] else []
    answers = tmp_path / "answers.tsv"
    answers.write_text("".join(
        f"{r['id']}\t{','.join(decided) if r is first else ','.join(r['current_topics']) or '-'}\t"
        f"{'the row decides it' if r is first else 'unchanged'}\n" for r in rows), encoding="utf-8")
    assert main(["labels", "revise", str(answers), "--labels", str(labels_dir), "--reviewer", "reader-T",
                 "--reason", "reviewed against a new row"]) == 0
    after = {r["id"]: r for r in jsonl_rows(labels_dir / "labels.jsonl")}
    assert after[first["id"]]["topics"] == decided
    assert after[first["id"]]["previous_topics"] == first["current_topics"]
    assert all(after[r["id"]]["topics"] == r["current_topics"] for r in rows if r is not first)


def test_parse_patterns_raises_the_library_error():
    with pytest.raises(InputError, match="expected NAME=REGEX"):
        parse_patterns(["no-equals-sign"])


@pytest.mark.parametrize("args, said", [
    (["--match", "x=a{99999999999}"], "'x' repeats something more times than a regular expression can count"),
    (["--match", "x=" + "(" * 1200 + "保育" + ")" * 1200], "'x' nests brackets too deeply to compile"),
    (["--match", "x = 保育"], "starts or ends with a space"),
    (["--match", "x=保育\b"], "holds the control character"),
    (["--match", "x=" + "保育(" * 100], "... (300 characters)"),  # long expressions are cut in the message
])
def test_more_bad_expressions_get_one_line(labels_dir, tmp_path, capsys, args, said):
    out = tmp_path / "out.jsonl"
    assert _cli(labels_dir, out, *args) != 0
    err = capsys.readouterr().err
    assert said in " ".join(err.split()) and "Traceback" not in err and len(err) < 1000, err[:300]
    assert not out.exists()


@pytest.mark.parametrize("text, said", [
    ("[x]\na = '保育'\n", "'x' is a TOML table"),
    ("x.a = '保育'\n", "'x' is a TOML table"),
    ("x = ['保育', '防災']\n", "'x' is a list; expected one regular expression per name"),
    ('x = "\\b保育"\n', "holds the control character '\\x08'"),
])
def test_patterns_files_that_toml_reads_otherwise(labels_dir, tmp_path, capsys, text, said):
    path, out = tmp_path / "rows.toml", tmp_path / "out.jsonl"
    path.write_text(text, encoding="utf-8")
    assert _cli(labels_dir, out, "--patterns", str(path)) != 0
    assert said in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


def test_a_byte_order_mark_is_read_past(labels_dir, tmp_path):
    path, out = tmp_path / "rows.toml", tmp_path / "out.jsonl"
    path.write_text("\ufeffx = '保育'\n", encoding="utf-8")
    assert _cli(labels_dir, out, "--patterns", str(path)) == 0
    assert {r["id"] for r in jsonl_rows(out)} == _matching("保育")


def test_when_every_match_is_left_out_it_says_so(labels_dir, tmp_path, capsys):
    first, again = tmp_path / "first.jsonl", tmp_path / "again.jsonl"
    assert _cli(labels_dir, first, "--match", "x=保育") == 0
    capsys.readouterr()
    assert _cli(labels_dir, again, "--match", "x=保育", "--exclude", str(first)) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "2 of 67 labels match the patterns, but 2 are listed by --exclude" in err
    assert "every matching label is read already or left out" in err and "Check the patterns" not in err
    assert not again.exists()


def test_a_pattern_matching_most_labels_is_pointed_out(labels_dir, tmp_path, capsys):
    assert _cli(labels_dir, tmp_path / "out.jsonl", "--match", "everything=.", "--match", "x=保育") == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "note: everything (100%) of the labels match" in err and "x (" not in err.split("note:")[1]


def test_out_may_not_replace_the_taxonomy(tmp_path, capsys, monkeypatch):
    """The taxonomy is read with the labels, from its own place (here a copy in the working directory, where
    the commands look first): an --out there would replace it."""
    import shutil

    from train.taxonomy import default_taxonomy_path

    (tmp_path / "labels").mkdir()
    shutil.copy(default_taxonomy_path(), tmp_path / "labels" / "topics.yaml")
    monkeypatch.chdir(tmp_path)
    taxonomy = default_taxonomy_path()
    assert taxonomy.resolve() == (tmp_path / "labels" / "topics.yaml").resolve()
    labels = tmp_path / "elsewhere"
    labels.mkdir()
    write_jsonl(labels / "labels.jsonl", fixture_label_rows())
    before = taxonomy.read_bytes()
    assert _cli(labels, taxonomy, "--match", "x=保育") != 0
    assert "--out" in capsys.readouterr().err and taxonomy.read_bytes() == before
