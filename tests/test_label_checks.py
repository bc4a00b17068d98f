"""The check of a review: `labels checks` draws every change and some kept labels from the review's own files,
`labels second-pass` turns each checker's answers into a label file for `labels agreement` / `labels adjudicate`."""

import pytest

from conftest import fixture_label_rows, jsonl_rows, write_jsonl
from train.cli import main
from train.errors import GikaiError, InputError, LabelError
from train.labeling.checks import draw_checks
from train.taxonomy import load_taxonomy

IDS = load_taxonomy().ids


@pytest.fixture
def review(tmp_path, labels_dir):
    """A review as it is recorded: the readers' file `labels select` wrote (split in two batches) and the
    reviewer's answers in two files, six of them changing the label shown, the rest keeping it."""
    out = tmp_path / "rev" / "sel.jsonl"
    assert main(["labels", "select", "--labels", str(labels_dir), "--match", "any=ます", "--out", str(out)]) == 0
    rows = jsonl_rows(out)
    batches, answers = tmp_path / "rev" / "batches", tmp_path / "rev" / "answers"
    batches.mkdir()
    answers.mkdir()
    write_jsonl(batches / "q1.jsonl", rows[::2])
    write_jsonl(batches / "q2.jsonl", rows[1::2])
    changed = {r["id"]: ["finance"] if "finance" not in r["current_topics"] else [] for r in rows[:6]}
    for name, part in (("q1.tsv", rows[::2]), ("q2.tsv", rows[1::2])):
        (answers / name).write_text("".join(
            f"{r['id']}\t{','.join(changed[r['id']]) or '-'}\trow X\n" if r["id"] in changed
            else f"{r['id']}\t{','.join(r['current_topics']) or '-'}\tunchanged\n" for r in part), encoding="utf-8")
    return labels_dir, batches, answers, rows, changed


def _checks(labels_dir, batches, answers, out_dir, *extra):
    return main(["labels", "checks", "--reading", str(batches), "--answers", str(answers), "--labels", str(labels_dir),
                 "--out-dir", str(out_dir), *extra])


def test_every_change_and_the_kept_sample_go_to_the_check_with_the_label_before_the_review(review, tmp_path, capsys):
    labels_dir, batches, answers, rows, changed = review
    out = tmp_path / "check"
    assert _checks(labels_dir, batches, answers, out, "--kept", "4", "--parts", "2", "--seed", "3") == 0
    parts = [jsonl_rows(out / "check1.jsonl"), jsonl_rows(out / "check2.jsonl")]
    assert sorted(map(len, parts)) == [5, 5]
    lines = parts[0] + parts[1]
    ids = [r["id"] for r in lines]
    assert len(set(ids)) == 10 and set(changed) <= set(ids)
    shown = {r["id"]: r for r in rows}
    for line in lines:  # the label before the review, the text; nothing of what chose it
        assert line["current_topics"] == shown[line["id"]]["current_topics"] and line["text"] == shown[line["id"]]["text"]
        assert list(line) == ["id", "municipality", "date", "speaker", "current_topics", "text"]
    err = capsys.readouterr().err
    assert f"{len(rows)} utterance(s) read by the review: 6 changed, {len(rows) - 6} kept" in err
    assert "labels second-pass" in err
    again = tmp_path / "again"
    assert _checks(labels_dir, batches, answers, again, "--kept", "4", "--parts", "2", "--seed", "3") == 0
    assert (again / "check1.jsonl").read_bytes() == (out / "check1.jsonl").read_bytes()
    other = draw_checks([batches], [answers], IDS, kept=4, parts=2, seed=4)
    assert [r["id"] for p in other.parts for r in p] != ids  # the seed draws and shuffles


def test_kept_beyond_the_labels_kept_takes_them_all(review):
    _, batches, answers, rows, changed = review
    sample = draw_checks([batches], [answers], IDS, kept=10_000, parts=3)
    assert len(sample.kept) == sample.kept_total == len(rows) - 6 and sum(map(len, sample.parts)) == len(rows)
    assert max(map(len, sample.parts)) - min(map(len, sample.parts)) <= 1


def test_the_loop_closes_second_passes_agreement_and_the_majority_of_three(review, tmp_path, capsys):
    labels_dir, batches, answers, rows, changed = review
    assert main(["labels", "revise", str(answers / "q1.tsv"), "--reviewer", "reader-R1", "--reason", "row X",
                 "--labels", str(labels_dir)]) == 0
    assert main(["labels", "revise", str(answers / "q2.tsv"), "--reviewer", "reader-R1", "--reason", "row X",
                 "--labels", str(labels_dir)]) == 0
    out = tmp_path / "check"
    assert _checks(labels_dir, batches, answers, out, "--kept", "2", "--parts", "1") == 0
    check = jsonl_rows(out / "check1.jsonl")
    flip = check[0]["id"] if check[0]["id"] in changed else check[1]["id"]  # a change both checkers undo
    for who in ("A", "B"):
        (tmp_path / f"{who}.tsv").write_text("".join(
            f"{r['id']}\t{','.join(r['current_topics']) or '-'}\tback\n" if r["id"] == flip
            else f"{r['id']}\t{','.join(changed.get(r['id'], r['current_topics'])) or '-'}\tagree\n" for r in check),
            encoding="utf-8")
    agreement = tmp_path / "agreement"
    for who in ("A", "B"):
        assert main(["labels", "second-pass", str(tmp_path / f"{who}.tsv"), "--check", str(out / "check1.jsonl"),
                     "--annotator", f"reader-C{who}", "--labels", str(labels_dir),
                     "--out", str(agreement / f"x-{who}.jsonl")]) == 0
    second = jsonl_rows(agreement / "x-A.jsonl")
    label = {r["id"]: r for r in fixture_label_rows()}
    assert [r["id"] for r in second] == [r["id"] for r in check]
    assert all(r["annotator"] == "reader-CA" and r["batch"] == "check1" and r["text"] == label[r["id"]]["text"]
               for r in second)
    assert {r["id"]: r["note"] for r in second}[flip] == "back"
    capsys.readouterr()
    assert main(["labels", "agreement", str(labels_dir), str(agreement / "x-A.jsonl")]) == 0
    assert f"{len(check)} items" in capsys.readouterr().out
    assert main(["labels", "adjudicate", str(labels_dir), str(agreement / "x-A.jsonl"), str(agreement / "x-B.jsonl"),
                 "--force"]) == 0
    after = {r["id"]: r for r in jsonl_rows(labels_dir / "labels.jsonl")}
    assert after[flip]["topics"] == label[flip]["topics"]  # the two checkers outvoted the reviewer
    assert all(set(after[i]["topics"]) == set(t) for i, t in changed.items() if i != flip)


def _refused(capsys, argv, *words):
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert all(w in err for w in words), err
    return err


def test_a_review_whose_answers_do_not_cover_its_readings_is_refused(review, tmp_path, capsys):
    labels_dir, batches, answers, rows, changed = review
    out = tmp_path / "check"
    lonely = tmp_path / "one.tsv"
    lonely.write_text((answers / "q1.tsv").read_text(encoding="utf-8"), encoding="utf-8")
    _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(lonely), "--out-dir", str(out),
                      "--labels", str(labels_dir)], "has no answer in", "nothing was written")
    stray = tmp_path / "stray.tsv"
    stray.write_text("nosuch:id\t-\twhy\n", encoding="utf-8")
    _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(answers), "--answers", str(stray),
                      "--out-dir", str(out), "--labels", str(labels_dir)], "nosuch:id is in none of the utterances read")
    twice = tmp_path / "twice.tsv"
    twice.write_text(f"{rows[0]['id']}\t-\tagain\n", encoding="utf-8")
    _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(answers), "--answers", str(twice),
                      "--out-dir", str(out), "--labels", str(labels_dir)], "again (first at", "one decision per id")
    assert not out.exists()


def test_bad_readings_and_options_are_refused_before_anything_is_written(review, tmp_path, capsys):
    labels_dir, batches, answers, rows, changed = review
    out = tmp_path / "check"
    broken = tmp_path / "broken"
    broken.mkdir()
    write_jsonl(broken / "q.jsonl", [{"id": r["id"], "text": r["text"]} for r in rows])  # no current_topics
    _refused(capsys, ["labels", "checks", "--reading", str(broken), "--answers", str(answers), "--out-dir", str(out),
                      "--labels", str(labels_dir)], "current_topics", "labels select")
    unknown = tmp_path / "unknown"
    unknown.mkdir()
    write_jsonl(unknown / "q.jsonl", [dict(r, current_topics=["sports"]) for r in rows])
    _refused(capsys, ["labels", "checks", "--reading", str(unknown), "--answers", str(answers), "--out-dir", str(out),
                      "--labels", str(labels_dir)], "unknown topic id(s) ['sports']")
    _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(answers), "--out-dir", str(out),
                      "--labels", str(labels_dir), "--kept", "0", "--parts", "7"], "--parts 7", "6 changed")
    _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(answers), "--out-dir", str(out),
                      "--labels", str(labels_dir), "--kept", "-1"], "--kept", "found -1")
    empty = tmp_path / "empty"
    empty.mkdir()
    _refused(capsys, ["labels", "checks", "--reading", str(empty), "--answers", str(answers), "--out-dir", str(out),
                      "--labels", str(labels_dir)], "no .jsonl file")
    assert not out.exists()


def test_check_files_never_land_among_the_labels_or_on_the_review_files(review, tmp_path, capsys):
    labels_dir, batches, answers, rows, changed = review
    before = (labels_dir / "labels.jsonl").read_bytes()
    _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(answers), "--out-dir",
                      str(labels_dir), "--labels", str(labels_dir)], "is the labels folder", "read as labels")
    _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(answers), "--out-dir",
                      str(batches / "sub" / ".."), "--labels", str(labels_dir)], "lies inside the input folder")
    (batches / "q1.jsonl").rename(batches / "check1.jsonl")  # a review file named as a check file would be replaced
    _refused(capsys, ["labels", "checks", "--reading", str(batches / "check1.jsonl"), "--reading",
                      str(batches / "q2.jsonl"), "--answers", str(answers), "--out-dir", str(batches),
                      "--labels", str(labels_dir)], "holds check files already")
    assert (labels_dir / "labels.jsonl").read_bytes() == before and sorted(p.name for p in labels_dir.iterdir()) == [
        "labels.jsonl"]


def test_second_pass_refuses_answers_that_do_not_match_the_check_or_the_labels(review, tmp_path, capsys):
    labels_dir, batches, answers, rows, changed = review
    out = tmp_path / "check"
    assert _checks(labels_dir, batches, answers, out, "--kept", "2", "--parts", "1") == 0
    check = jsonl_rows(out / "check1.jsonl")
    part = tmp_path / "part.tsv"
    part.write_text("".join(f"{r['id']}\t-\tnone\n" for r in check[1:]), encoding="utf-8")
    target = tmp_path / "agreement" / "x-A.jsonl"
    base = ["--check", str(out / "check1.jsonl"), "--labels", str(labels_dir), "--out", str(target)]
    _refused(capsys, ["labels", "second-pass", str(part), "--annotator", "reader-Z", *base], "has no answer in")
    whole = tmp_path / "whole.tsv"
    whole.write_text("".join(f"{r['id']}\t-\tnone\n" for r in check), encoding="utf-8")
    _refused(capsys, ["labels", "second-pass", str(whole), "--annotator", "  ", *base], "--annotator")
    _refused(capsys, ["labels", "second-pass", str(whole), "--annotator", "reader-Z", "--check",
                      str(out / "check1.jsonl"), "--labels", str(labels_dir), "--out", str(labels_dir / "x-A.jsonl")],
             "is the labels folder")
    _refused(capsys, ["labels", "second-pass", str(whole), "--annotator", "reader-Z", "--check",
                      str(out / "check1.jsonl"), "--labels", str(labels_dir), "--out", str(whole)], "is the input")
    edited = tmp_path / "edited.jsonl"
    write_jsonl(edited, [dict(check[0], text=check[0]["text"] + "。"), *check[1:]])
    _refused(capsys, ["labels", "second-pass", str(whole), "--annotator", "reader-Z", "--check", str(edited),
                      "--labels", str(labels_dir), "--out", str(target)], "differs from its label's")
    assert not target.exists() and not (labels_dir / "x-A.jsonl").exists()


def test_library_errors_are_the_projects_own(review):
    _, batches, answers, _, _ = review
    with pytest.raises(InputError):
        draw_checks([], [answers], IDS)
    with pytest.raises(LabelError):
        draw_checks([answers / "q1.tsv"], [answers], IDS)  # a TSV is no readers' file
    assert issubclass(InputError, GikaiError) and issubclass(LabelError, GikaiError)


def test_a_draw_never_replaces_an_earlier_one_and_needs_the_labels_folder(review, tmp_path, capsys):
    labels_dir, batches, answers, rows, changed = review
    out = tmp_path / "check"
    assert _checks(labels_dir, batches, answers, out, "--parts", "3") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(answers), "--out-dir", str(out),
                      "--labels", str(labels_dir), "--parts", "2", "--seed", "9"], "holds check files already",
             "check1.jsonl, check2.jsonl, check3.jsonl")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(answers), "--out-dir",
                      str(labels_dir), "--labels", str(tmp_path / "labelz")], "--labels", "no such labels folder")
    assert sorted(p.name for p in labels_dir.iterdir()) == ["labels.jsonl"]
    _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(tmp_path / "none.tsv"),
                      "--out-dir", str(tmp_path / "c2"), "--labels", str(labels_dir)], "no such answers file")
    _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(answers), "--out-dir",
                      str(tmp_path / "c3"), "--labels", str(labels_dir), "--kept", "0", "--parts", "1",
                      "--answers", str(tmp_path / "none.tsv")], "no such answers file")


def test_wrong_or_repeated_files_get_one_message_not_one_per_line(review, tmp_path, capsys):
    labels_dir, batches, answers, rows, changed = review
    out = tmp_path / "check"
    err = _refused(capsys, ["labels", "checks", "--reading", str(answers / "q1.tsv"), "--answers", str(answers),
                            "--out-dir", str(out), "--labels", str(labels_dir)], "is it an answers file?")
    assert err.count("q1.tsv") == 1
    err = _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(batches / "q1.jsonl"),
                            "--out-dir", str(out), "--labels", str(labels_dir)], "is it a readers' file?")
    err = _refused(capsys, ["labels", "checks", "--reading", str(batches), "--reading", str(batches / "q1.jsonl"),
                            "--answers", str(answers), "--out-dir", str(out), "--labels", str(labels_dir)],
                   "given twice")
    assert "again (first at" not in err
    assert not out.exists()


def test_text_that_cannot_be_written_is_refused_with_its_line(review, tmp_path, capsys):
    labels_dir, batches, answers, rows, changed = review
    bad = tmp_path / "bad"
    bad.mkdir()
    lines = (batches / "q1.jsonl").read_text(encoding="utf-8").splitlines()
    first = lines[0].replace('"speaker": ', '"speaker": "\\ud800", "x": ', 1)
    (bad / "q1.jsonl").write_text("\n".join([first, *lines[1:]]) + "\n", encoding="utf-8")
    (bad / "q2.jsonl").write_bytes((batches / "q2.jsonl").read_bytes())
    out = tmp_path / "check"
    _refused(capsys, ["labels", "checks", "--reading", str(bad), "--answers", str(answers), "--out-dir", str(out),
                      "--labels", str(labels_dir)], "q1.jsonl:1:", "lone surrogate")
    assert not out.exists()


def test_second_pass_names_and_outputs(review, tmp_path, capsys):
    labels_dir, batches, answers, rows, changed = review
    out = tmp_path / "check"
    assert _checks(labels_dir, batches, answers, out, "--kept", "2", "--parts", "1") == 0
    whole = tmp_path / "whole.tsv"
    whole.write_text("".join(f"{r['id']}\t-\tnone\n" for r in jsonl_rows(out / "check1.jsonl")), encoding="utf-8")
    target = tmp_path / "agreement" / "x-A.jsonl"
    base = ["--labels", str(labels_dir), "--out", str(target)]
    for name in ("reader-A,reader-B", "reader\rA"):
        _refused(capsys, ["labels", "second-pass", str(whole), "--check", str(out / "check1.jsonl"), "--annotator",
                          name, *base], "--annotator", "expected a name")
    _refused(capsys, ["labels", "second-pass", str(whole), "--check", str(out), "--annotator", "reader-Z", *base],
             "a folder", "one file")
    assert not target.exists()
    assert main(["labels", "second-pass", str(whole), "--check", str(out / "check1.jsonl"), "--annotator", "reader-Z",
                 *base]) == 0
    kept = target.read_bytes()
    _refused(capsys, ["labels", "second-pass", str(whole), "--check", str(out / "check1.jsonl"), "--annotator",
                      "reader-Y", *base], "exists already")
    assert target.read_bytes() == kept


def test_nothing_to_check_is_said_so(review, tmp_path, capsys):
    labels_dir, batches, answers, rows, changed = review
    same = tmp_path / "same"
    same.mkdir()
    (same / "a.tsv").write_text("".join(f"{r['id']}\t{','.join(r['current_topics']) or '-'}\tunchanged\n"
                                        for r in rows), encoding="utf-8")
    _refused(capsys, ["labels", "checks", "--reading", str(batches), "--answers", str(same), "--out-dir",
                      str(tmp_path / "c"), "--labels", str(labels_dir), "--kept", "0"], "nothing to check")
