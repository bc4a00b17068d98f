"""Eleventh session: label-file fixes found walking the README."""

import json

from conftest import fixture_label_rows, write_jsonl
from train.cli import main


def test_label_studio_task_whose_text_was_edited_is_refused_not_skipped(tmp_path, capsys):
    """A task whose text was changed in Label Studio, its id already labeled with the same topics, was counted as
    already present without a word, while `labels add` and `labels merge` refuse another text under a labeled id."""
    labels = tmp_path / "labels"
    labels.mkdir()
    rows = fixture_label_rows()[:2]
    write_jsonl(labels / "a.jsonl", rows)
    tasks = tmp_path / "tasks.json"
    assert main(["labels", "export", "--labels", str(labels), "--out", str(tasks)]) == 0
    data = json.loads(tasks.read_text(encoding="utf-8"))
    data[1]["data"]["text"] = "議案第一号について、賛成の方の起立を求めます。"
    tasks.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = labels / "label-studio.jsonl"
    capsys.readouterr()
    assert main(["labels", "import", str(tasks), "--out", str(out), "--labels", str(labels)]) == 1
    err = capsys.readouterr().err
    assert f"{rows[1]['id']} is already labeled at {labels / 'a.jsonl'}:2 with another text" in err
    assert not out.exists()
    # the unedited export imports as before: every task already present, nothing new
    assert main(["labels", "export", "--labels", str(labels), "--out", str(tasks)]) == 0
    assert main(["labels", "import", str(tasks), "--out", str(out), "--labels", str(labels)]) == 0


def test_corpus_stats_says_one_group_in_the_singular(tmp_path, capsys):
    rows = fixture_label_rows()[:3]
    corpus = tmp_path / "c.jsonl"
    write_jsonl(corpus, [{"id": "x:1", "municipality": "品川区", "date": "2023-01-01", "text": rows[0]["text"]},
                         {"id": "x:2", "municipality": "品川区", "date": "2023-01-02", "text": rows[0]["text"] + "　"},
                         {"id": "x:3", "municipality": "品川区", "date": "2023-01-03", "text": rows[1]["text"]}])
    capsys.readouterr()
    assert main(["corpus", "stats", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "1 group holds 2 records with copies" in out


def test_a_line_cut_inside_a_string_says_at_once(tmp_path, capsys):
    """json's "Unterminated string starting at" came out as "... starting at at column 11"."""
    bad = tmp_path / "labels"
    bad.mkdir()
    (bad / "a.jsonl").write_text('{"id": "x:1", "text": "途中で切れた\n', encoding="utf-8")
    assert main(["labels", "validate", str(bad)]) == 1
    said = capsys.readouterr()
    said = said.out + said.err
    assert "malformed JSON (Unterminated string starting at column 23)" in said and "at at" not in said
