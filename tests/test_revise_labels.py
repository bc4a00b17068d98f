"""`labels adjudicate` (majority of three independent readings) and `labels revise` (a reviewer's decisions):
labels rewritten in place, every other line byte for byte as it was, all or nothing."""

import json

import pytest

from conftest import fixture_label_rows, jsonl_rows, write_jsonl
from train.cli import main
from train.errors import InputError, LabelError
from train.labeling.revise import adjudicate, revise
from train.taxonomy import load_taxonomy

A_NOTE = "majority of three independent readings (first pass, reader-9A, reader-9B)"


@pytest.fixture
def passes(tmp_path, labels_dir):
    """The fixture labels as a first pass (label 1 already adjudicated once), and two second passes of its first
    five ids: labels 0 and 1 outvoted on some topic, 2 and 3 not (one re-reader alone, or the two re-readers
    each alone), 4 read alike by all."""
    rows = fixture_label_rows()
    rows[1]["previous_topics"] = ["finance"]
    rows[1]["adjudicated"] = "read again by the maintainer"
    write_other_style(labels_dir / "labels.jsonl", rows)
    a, b = ([dict(r, annotator=name) for r in rows[:5]] for name in ("reader-9A", "reader-9B"))
    a[0]["topics"] = b[0]["topics"] = ["culture_sports", "dx"]  # both add two topics (in no particular order)
    a[1]["topics"] = b[1]["topics"] = []  # both drop administration
    a[2]["topics"] = ["welfare", "health"]  # one re-reader adds health: the first pass and the other win
    a[3]["topics"], b[3]["topics"] = ["urban", "economy"], ["urban", "finance"]  # one vote each: kept
    second = tmp_path / "agreement"
    second.mkdir()
    return labels_dir, write_jsonl(second / "r9-A.jsonl", a), write_jsonl(second / "r9-B.jsonl", b[::-1])


def write_other_style(path, rows):
    """Label lines as another tool may have written them (ASCII escapes, no spaces; the second line ending in
    CRLF): a line written again by json.dumps would show."""
    lines = [json.dumps(r, separators=(",", ":")) for r in rows]
    lines[1] += "\r"
    path.write_bytes("\n".join(lines).encode("utf-8") + b"\n")
    return path


def _bytes(*paths):
    return [p.read_bytes() for p in paths]


def test_adjudicate_rewrites_only_the_outvoted_labels(passes):
    labels_dir, a, b = passes
    f = labels_dir / "labels.jsonl"
    before = f.read_bytes().split(b"\n")
    res = adjudicate(labels_dir, a, b, labels_dir=labels_dir, taxonomy=load_taxonomy(), force=True)
    assert res.compared == 5 and res.unchanged == 3 and res.files == [f]
    assert [(c.id, c.before, c.after) for c in res.changes] == [
        (before_id(before, 0), (), ("dx", "culture_sports")),
        (before_id(before, 1), ("administration",), ())]
    assert [c.earlier for c in res.changes] == [None, "read again by the maintainer"]
    assert res.topic_counts(load_taxonomy().ids) == {"dx": (1, 0), "administration": (0, 1), "culture_sports": (1, 0)}
    after = f.read_bytes().split(b"\n")
    assert len(after) == len(before) and after[2:] == before[2:]  # every other line byte for byte
    first, second = json.loads(after[0]), json.loads(after[1])
    assert first["topics"] == ["dx", "culture_sports"]  # topics.yaml order
    assert first["previous_topics"] == [] and first["adjudicated"] == A_NOTE
    assert list(first) == [*json.loads(before[0]), "previous_topics", "adjudicated"]  # keys keep their order
    assert second["topics"] == [] and second["previous_topics"] == ["finance"]  # the first reading kept
    assert second["adjudicated"] == f"read again by the maintainer; then {A_NOTE}"
    assert after[1].endswith(b"\r") and b"\\u" not in after[0] and b"\\u" in after[2]  # own line end kept
    assert list(second) == list(json.loads(before[1]))
    # run again: the majority is what the labels say now
    again = adjudicate(labels_dir, a, b, labels_dir=labels_dir, taxonomy=load_taxonomy())
    assert again.changes == [] and f.read_bytes().split(b"\n") == after


def test_adjudicate_refuses_to_undo_a_later_decision_without_force(passes):
    """Label 1 was read again after its first reading: a majority over its current topics would undo that."""
    labels_dir, a, b = passes
    files = [labels_dir / "labels.jsonl", a, b]
    before = _bytes(*files)
    with pytest.raises(InputError) as info:
        adjudicate(labels_dir, a, b, labels_dir=labels_dir, taxonomy=load_taxonomy())
    msg = str(info.value)
    assert "labels.jsonl:2:" in msg and "decided again since its first reading ('read again by the maintainer')" in msg
    assert "(1 such label(s))" in msg and "--force" in msg and "nothing was written" in msg
    assert _bytes(*files) == before
    assert main(["labels", "adjudicate", str(labels_dir), str(a), str(b), "--labels", str(labels_dir)]) == 1
    assert _bytes(*files) == before


def test_adjudicate_refuses_a_folder_or_nothing_as_a_second_pass(passes, tmp_path):
    labels_dir, a, b = passes
    before = _bytes(labels_dir / "labels.jsonl", a, b)
    for bad, found in ((a.parent, "found a folder"), (tmp_path / "missing.jsonl", "found nothing there")):
        with pytest.raises(InputError, match=f"expected a second pass as one label file .*{found}"):
            adjudicate(labels_dir, a, bad, labels_dir=labels_dir, taxonomy=load_taxonomy(), force=True)
    assert _bytes(labels_dir / "labels.jsonl", a, b) == before


def before_id(lines, n):
    return json.loads(lines[n])["id"]


def test_adjudicate_dry_run_writes_nothing(passes, capsys):
    labels_dir, a, b = passes
    files = [labels_dir / "labels.jsonl", a, b]
    before = _bytes(*files)
    res = adjudicate(labels_dir, a, b, labels_dir=labels_dir, taxonomy=load_taxonomy(), dry_run=True, force=True)
    assert len(res.changes) == 2 and res.dry_run and _bytes(*files) == before
    assert main(["labels", "adjudicate", str(labels_dir), str(a), str(b), "--labels", str(labels_dir),
                 "--dry-run", "--force"]) == 0
    out, err = capsys.readouterr()
    assert out.count(" -> ") == 2 and "administration -> -" in out
    assert "note: 1 of the changed labels had been decided again already" in err
    assert "5 id(s) compared; 2 changed (dx +1, administration -1, culture_sports +1), 3 unchanged; dry run" in err
    assert _bytes(*files) == before


def _edit(path, change):
    rows = jsonl_rows(path)
    change(rows)
    write_jsonl(path, rows)


@pytest.mark.parametrize("spoil, says", [
    (lambda d, a, b: _edit(d / "labels.jsonl", lambda rows: rows.pop(2)), "r9-A.jsonl: 1 id(s) not in the first pass"),
    (lambda d, a, b: _edit(b, lambda rows: rows.pop(0)), "r9-A.jsonl: 1 id(s) not in"),
    (lambda d, a, b: _edit(a, lambda rows: rows[3].update(text=rows[3]["text"] + "。")),
     "r9-A.jsonl:4: the text of shinagawa:r04-20220117-8:0124 differs from the first pass's"),
    (lambda d, a, b: a.write_text(a.read_text(encoding="utf-8") + "{broken\n", encoding="utf-8"),
     "r9-A.jsonl:6: malformed JSON"),
    (lambda d, a, b: _edit(d / "labels.jsonl", lambda rows: rows[40].update(topics=["kids"])),
     "labels.jsonl:41: unknown topic id(s) ['kids']"),
])
def test_adjudicate_refusals_leave_every_file_as_it_was(passes, spoil, says):
    labels_dir, a, b = passes
    spoil(labels_dir, a, b)
    files = [labels_dir / "labels.jsonl", a, b]
    before = _bytes(*files)
    with pytest.raises(LabelError, match="nothing was written|problem") as info:
        adjudicate(labels_dir, a, b, labels_dir=labels_dir, taxonomy=load_taxonomy())
    assert says in str(info.value)
    assert _bytes(*files) == before


def test_adjudicate_names_the_readers_from_the_files_or_refuses(passes):
    labels_dir, a, b = passes
    f = labels_dir / "labels.jsonl"
    _edit(b, lambda rows: rows[0].update(annotator="someone-else"))
    before = f.read_bytes()
    with pytest.raises(InputError, match="expected one reader named"):
        adjudicate(labels_dir, a, b, labels_dir=labels_dir, taxonomy=load_taxonomy())
    with pytest.raises(InputError, match="whose labels name"):  # a name the file contradicts
        adjudicate(labels_dir, a, b, labels_dir=labels_dir, taxonomy=load_taxonomy(), annotators=("x", "y"))
    with pytest.raises(InputError, match="also one of the labels"):
        adjudicate(labels_dir, f, b, labels_dir=labels_dir, taxonomy=load_taxonomy())
    assert f.read_bytes() == before


# --------------------------------------------------------------------------- labels revise

NOTE = "reviewed against the guidelines' eighteenth-round block"


def _changes(tmp_path, text):
    p = tmp_path / "changes.tsv"
    p.write_text(text, encoding="utf-8")
    return p


def test_revise_rewrites_changed_labels_and_counts_unchanged(tmp_path, labels_dir):
    rows = fixture_label_rows()
    rows[9]["adjudicated"] = "majority of three independent readings (first pass, A, B)"
    rows[9]["previous_topics"] = ["dx", "welfare"]
    write_other_style(labels_dir / "labels.jsonl", rows)
    f = labels_dir / "labels.jsonl"
    before = f.read_bytes().split(b"\n")
    changes = _changes(tmp_path, f"{rows[2]['id']}\thealth, welfare\tsubsidy row: a health check\n\n"
                                 f"{rows[9]['id']}\t-\tstaff row: not the ward's own\n"
                                 f"{rows[3]['id']}\turban\tkept: the row does not apply\n")
    res = revise(changes, reviewer="reader-R24", reason=NOTE, labels_dir=labels_dir, taxonomy=load_taxonomy())
    assert (res.compared, len(res.changes), res.unchanged) == (3, 2, 1)
    after = f.read_bytes().split(b"\n")
    assert [n for n, (x, y) in enumerate(zip(before, after)) if x != y] == [2, 9] and len(after) == len(before)
    two, nine = json.loads(after[2]), json.loads(after[9])
    assert two["topics"] == ["welfare", "health"] and two["previous_topics"] == ["welfare"]
    assert two["adjudicated"] == f"{NOTE} (reader-R24): subsidy row: a health check"
    assert nine["topics"] == [] and nine["previous_topics"] == ["dx", "welfare"]
    assert nine["adjudicated"] == ("majority of three independent readings (first pass, A, B); then "
                                   f"{NOTE} (reader-R24): staff row: not the ward's own")
    before_dry = f.read_bytes()
    res = revise(_changes(tmp_path, f"{rows[3]['id']}\tdx\twhy\n"), reviewer="r", reason="x", labels_dir=labels_dir,
                 taxonomy=load_taxonomy(), dry_run=True)
    assert len(res.changes) == 1 and f.read_bytes() == before_dry


@pytest.mark.parametrize("line, says", [
    ("{id}\tkids\twhy", "changes.tsv:2: unknown topic id(s) ['kids'] for {id}"),
    ("no-such-id\tdx\twhy", "changes.tsv:2: no-such-id is not labeled under"),
    ("{id}\tdx\tonce more", "changes.tsv:2: {id} again (first on line 1)"),
    ("{id} dx why", "changes.tsv:2: expected id<TAB>topics<TAB>why"),
    ("{id}\t\twhy", "changes.tsv:2: expected id<TAB>topics<TAB>why"),
    ("{id}\tdx", "changes.tsv:2: expected id<TAB>topics<TAB>why"),
    ("{id}\t,\twhy", "changes.tsv:2: expected id<TAB>topics<TAB>why"),  # not "no topic": only '-' says that
    ("{id}\t , \twhy", "changes.tsv:2: expected id<TAB>topics<TAB>why"),
])
def test_revise_refuses_a_bad_line_and_writes_nothing(tmp_path, labels_dir, line, says):
    rows = fixture_label_rows()
    f = labels_dir / "labels.jsonl"
    before = f.read_bytes()
    changes = _changes(tmp_path, f"{rows[0]['id']}\turban\tfirst\n" + line.format(id=rows[0]["id"]) + "\n")
    with pytest.raises(LabelError, match="nothing was written") as info:
        revise(changes, reviewer="reader-R24", reason=NOTE, labels_dir=labels_dir, taxonomy=load_taxonomy())
    assert says.format(id=rows[0]["id"]) in str(info.value)
    assert f.read_bytes() == before


@pytest.mark.parametrize("reviewer, reason, says", [
    ("reader\tR24", NOTE, "--reviewer: expected a name such as reader-R12 (no control character)"),
    ("  ", NOTE, "--reviewer: expected a name such as reader-R12"),
    ("reader-R24", "first line\nsecond", "--reason: expected a non-empty line of text (no control character)"),
])
def test_revise_refuses_a_reviewer_or_reason_that_would_break_the_notes(tmp_path, labels_dir, reviewer, reason, says):
    rows = fixture_label_rows()
    f = labels_dir / "labels.jsonl"
    before = f.read_bytes()
    with pytest.raises(InputError) as info:
        revise(_changes(tmp_path, f"{rows[0]['id']}\tdx\twhy\n"), reviewer=reviewer, reason=reason,
               labels_dir=labels_dir, taxonomy=load_taxonomy())
    assert says in str(info.value) and f.read_bytes() == before


def test_revise_accepts_a_comma_in_the_reason_and_the_reviewer(tmp_path, labels_dir):
    rows = fixture_label_rows()
    res = revise(_changes(tmp_path, f"{rows[0]['id']}\tdx\twhy\n"), reviewer="reader-R24, second desk",
                 reason="reviewed, then checked", labels_dir=labels_dir, taxonomy=load_taxonomy(), dry_run=True)
    assert res.compared == 1


def test_revise_given_a_readers_file_says_so_once(tmp_path, labels_dir):
    f = labels_dir / "labels.jsonl"
    before = f.read_bytes()
    readers = write_jsonl(tmp_path / "sel.jsonl", [{"id": r["id"], "current_topics": r["topics"], "text": r["text"]}
                                                   for r in fixture_label_rows()[:30]])
    with pytest.raises(LabelError, match="nothing was written") as info:
        revise(readers, reviewer="reader-R24", reason=NOTE, labels_dir=labels_dir, taxonomy=load_taxonomy())
    assert "its first line is a JSON object: is it a readers' file?" in str(info.value)
    assert str(info.value).count("sel.jsonl") == 1 and f.read_bytes() == before


def test_revise_refuses_a_result_validate_would_refuse(tmp_path, labels_dir):
    """A label changed while another file labels the same text with the old topics: conflicting copies."""
    rows = fixture_label_rows()
    write_jsonl(labels_dir / "copy.jsonl", [dict(rows[2], id="copy-of-2")])
    files = [labels_dir / "labels.jsonl", labels_dir / "copy.jsonl"]
    before = _bytes(*files)
    changes = _changes(tmp_path, f"{rows[2]['id']}\thealth\twhy\n")
    with pytest.raises(LabelError, match="conflicting topics") as info:
        revise(changes, reviewer="reader-R24", reason=NOTE, labels_dir=labels_dir, taxonomy=load_taxonomy())
    assert "labels validate" in str(info.value) and "nothing was written" in str(info.value)
    assert _bytes(*files) == before


def test_revise_names_the_line_of_a_label_whose_note_is_not_text(tmp_path, labels_dir):
    rows = fixture_label_rows()
    rows[2]["adjudicated"] = 5
    f = write_jsonl(labels_dir / "labels.jsonl", rows)
    before = f.read_bytes()
    with pytest.raises(LabelError) as info:
        revise(_changes(tmp_path, f"{rows[2]['id']}\thealth\twhy\n"), reviewer="r", reason="x",
               labels_dir=labels_dir, taxonomy=load_taxonomy())
    assert str(info.value).startswith(f"{f}:3: {rows[2]['id']}: 'adjudicated' is int")
    assert "nothing was written" in str(info.value) and f.read_bytes() == before


# --------------------------------------------------------------------------- one file of a folder given

def _folder_state(folder):
    """Every file in ``folder`` and its bytes: a refusal leaves them as they were, and no lock file behind."""
    return {f.name: f.read_bytes() if f.is_file() else _folder_state(f) for f in sorted(folder.iterdir())}


def _with_copy(labels_dir, n, name="copy.jsonl"):
    """``labels.jsonl`` and, beside it, ``name`` labeling the text of its label ``n`` again (with the same topics)
    under another id: the folder validates, and must still validate after a change."""
    rows = fixture_label_rows()
    write_jsonl(labels_dir / name, [dict(rows[n], id=f"copy-of-{n}")])
    return rows[n]


def _validates(folder):
    from train.labeling.store import read_labels

    return read_labels(folder, load_taxonomy(), strict=False)[1] == []


def test_revise_of_one_file_refuses_a_conflict_with_a_label_file_beside_it(tmp_path, labels_dir):
    """`--labels labels/round19.jsonl`: the same text labeled in round5.jsonl as well must keep its topics there."""
    row = _with_copy(labels_dir, 2)
    f = labels_dir / "labels.jsonl"
    changes = _changes(tmp_path, f"{row['id']}\thealth\twhy\n")
    before = _folder_state(labels_dir)
    for dry_run in (True, False):  # a dry run says the same
        with pytest.raises(LabelError) as info:
            revise(changes, reviewer="reader-R24", reason=NOTE, labels_dir=f, taxonomy=load_taxonomy(),
                   dry_run=dry_run)
        msg = str(info.value)
        assert msg.startswith(f"{f}:3: {row['id']}: expected the same topics for the same text (after "
                              f"normalisation) in every label file of {labels_dir} (`labels validate {labels_dir}` "
                              f"reads them together), not only in {f}; found it labeled ['welfare'] as copy-of-2 at "
                              f"{labels_dir / 'copy.jsonl'}:1, while this change would make {row['id']} ['health']; ")
        assert f"pass the folder (--labels {labels_dir}) with a decision for copy-of-2 in {changes}" in msg
        assert f"decide {row['id']} as welfare" in msg and msg.endswith("; nothing was written")
        assert "\n" not in msg and _folder_state(labels_dir) == before
    assert main(["labels", "revise", str(changes), "--reviewer", "r", "--reason", "x", "--labels", str(f)]) == 1
    assert _folder_state(labels_dir) == before and _validates(labels_dir)
    # both changed at once, with the folder given: what the error advises
    both = _changes(tmp_path, f"{row['id']}\thealth\twhy\ncopy-of-2\thealth\twhy\n")
    res = revise(both, reviewer="r", reason="x", labels_dir=labels_dir, taxonomy=load_taxonomy())
    assert len(res.changes) == 2 and _validates(labels_dir)


def test_revise_of_one_file_still_changes_a_text_labeled_there_only(tmp_path, labels_dir):
    """Beside it: a copy of another label, a file that is no label file (a batch's records, without topics: the
    folder's own problem, not this change's), and second passes in a folder of their own."""
    _with_copy(labels_dir, 2)
    rows = fixture_label_rows()
    write_jsonl(labels_dir / "b-01.jsonl", [{"id": rows[3]["id"], "key": "b-abcdef-0001", "text": rows[3]["text"]}])
    (labels_dir / "agreement").mkdir()
    write_jsonl(labels_dir / "agreement" / "second-pass.jsonl", [dict(rows[3], topics=["dx"])])
    f = labels_dir / "labels.jsonl"
    others = {n: b for n, b in _folder_state(labels_dir).items() if n != "labels.jsonl"}
    res = revise(_changes(tmp_path, f"{rows[3]['id']}\thealth\twhy\n"), reviewer="r", reason="x", labels_dir=f,
                 taxonomy=load_taxonomy())
    assert [c.id for c in res.changes] == [rows[3]["id"]] and res.files == [f]
    assert jsonl_rows(f)[3]["topics"] == ["health"]
    assert {n: b for n, b in _folder_state(labels_dir).items() if n in others} == others  # read only
    # a conflicting change is still refused with the non-label file beside it
    with pytest.raises(LabelError, match="as copy-of-2 at"):
        revise(_changes(tmp_path, f"{rows[2]['id']}\thealth\twhy\n"), reviewer="r", reason="x", labels_dir=f,
               taxonomy=load_taxonomy())


def test_adjudicate_of_one_file_refuses_a_conflict_with_a_label_file_beside_it(passes):
    """The majority changes label 0, whose text is labeled again in a file beside the first pass: refused, whether
    the file is named once or twice, or with its folder (then the check of the folder says it)."""
    labels_dir, a, b = passes
    row = _with_copy(labels_dir, 0)
    f = labels_dir / "labels.jsonl"
    before = _folder_state(labels_dir), _bytes(a, b)
    for first, checked, says in ((f, f, "as copy-of-0 at"), (labels_dir / "." / "labels.jsonl", f, "as copy-of-0 at"),
                                 (f, labels_dir, "conflicting topics")):
        for dry_run in (True, False):
            with pytest.raises(LabelError) as info:
                adjudicate(first, a, b, labels_dir=checked, taxonomy=load_taxonomy(), force=True, dry_run=dry_run)
            assert says in str(info.value) and "nothing was written" in str(info.value)
            assert (_folder_state(labels_dir), _bytes(a, b)) == before
    with pytest.raises(LabelError) as info:
        adjudicate(f, a, b, labels_dir=f, taxonomy=load_taxonomy(), force=True)
    assert str(info.value).startswith(f"{f}:1: {row['id']}: expected the same topics for the same text")
    assert f"adjudicate with the folder as the first pass and as --labels ({labels_dir}), copy-of-0 read" in str(info.value)
    assert main(["labels", "adjudicate", str(f), str(a), str(b), "--labels", str(f), "--force"]) == 1
    assert (_folder_state(labels_dir), _bytes(a, b)) == before and _validates(labels_dir)


def test_adjudicate_of_one_file_with_the_second_passes_apart_or_beside_it(passes):
    """Second passes in a folder of their own are no labels of the first pass's folder; beside the first-pass
    file they are (`labels validate` of the folder would read them): refused."""
    labels_dir, a, b = passes
    f = labels_dir / "labels.jsonl"
    beside = [labels_dir / p.name for p in (a, b)]
    for p, q in zip((a, b), beside):
        q.write_bytes(p.read_bytes())
    before = _folder_state(labels_dir)
    with pytest.raises(InputError) as info:
        adjudicate(f, *beside, labels_dir=f, taxonomy=load_taxonomy(), force=True)
    assert str(info.value).startswith(f"{beside[0]}: is read as a second pass and is also one of the labels of "
                                      f"{labels_dir} (`labels validate {labels_dir}` reads it as labels)")
    assert _folder_state(labels_dir) == before
    for q in beside:
        q.unlink()
    res = adjudicate(f, a, b, labels_dir=f, taxonomy=load_taxonomy(), force=True)
    assert len(res.changes) == 2 and res.files == [f] and _validates(labels_dir)


# --------------------------------------------------------------------------- the commands

def test_cli_revise_and_adjudicate(tmp_path, passes):
    from typer.testing import CliRunner

    import train.cli as cli

    cli._register()
    labels_dir, a, b = passes
    f = labels_dir / "labels.jsonl"
    rid = jsonl_rows(f)[2]["id"]
    runner = CliRunner()
    ok = runner.invoke(cli.app, ["labels", "revise", str(_changes(tmp_path, f"{rid}\thealth\tthe row\n")),
                                 "--reviewer", "reader-R24", "--reason", NOTE, "--labels", str(labels_dir)])
    assert ok.exit_code == 0, ok.output
    assert f"labels.jsonl:3: {rid}: welfare -> health" in ok.stdout
    assert "1 decision(s); 1 changed (welfare -1, health +1), 0 unchanged; rewrote" in ok.stderr
    assert jsonl_rows(f)[2]["topics"] == ["health"]
    before = f.read_bytes()
    bad = runner.invoke(cli.app, ["labels", "adjudicate", str(labels_dir), str(a), str(a), "--labels",
                                  str(labels_dir)])
    assert bad.exit_code != 0 and isinstance(bad.exception, InputError)
    assert "\n" not in str(bad.exception) and "expected two independent passes" in str(bad.exception)
    assert f.read_bytes() == before
