"""Ninth review of the labeling code: a label must never be lost, duplicated or silently changed, and a
refusal says what was expected, what was found and how to fix it.  Each test failed on the code before
its fix (see docs/RELIABILITY.md, "Ninth session: review of the labeling code")."""

import io
import json

import pytest

from conftest import FIXTURES, jsonl_ids as _ids, jsonl_rows as _rows, label_session as _session, write_jsonl
from train.cli import main
from train.corpus import read_jsonl
from train.labeling.store import read_labels

POOL = FIXTURES / "corpus_sample.jsonl"



# --------------------------------------------------------------------------- what counts as already labeled

def test_a_label_that_does_not_validate_is_still_never_offered_again(tmp_path, empty_dir):
    """A hand edit left a typo in a topic: the label was skipped when the session (and `labels pool`) listed
    what is labeled, so its utterance was offered and labeled a second time (a duplicate id)."""
    first = next(iter(read_jsonl(POOL)))
    out = tmp_path / "mine.jsonl"
    write_jsonl(out, [{"id": first.id, "text": first.text, "topics": ["privcy"]}])
    pool = tmp_path / "pool.jsonl"
    assert main(["labels", "pool", "--pool", str(POOL), "--out", str(pool), "--strategy", "random", "--model", "none",
                 "--labels", str(out), "--size", "1000", "--min-chars", "0"]) == 0
    assert first.id not in _ids(pool)
    n = len(list(read_jsonl(POOL)))
    res, screen = _session(out, "y\n" * n, empty_dir)
    assert f"id: {first.id}\n" not in screen and res.accepted == n - 1
    ids = _ids(out)
    assert len(ids) == len(set(ids)) == n


class _Meanwhile(io.StringIO):
    """Keystrokes for one session; before the first is read, ``other()`` runs (another session on the same file)."""

    def __init__(self, keys, other):
        super().__init__(keys)
        self.other = other

    def readline(self, *args):
        if self.other is not None:
            other, self.other = self.other, None
            other()
        return super().readline(*args)


def test_two_sessions_on_one_file_never_label_an_utterance_twice(tmp_path, empty_dir):
    """Two terminals on the same --out (a resume started while the first session was still open): both queues
    held the same utterances in the same order, so each was labeled twice, with different topics."""
    out = tmp_path / "mine.jsonl"
    first = {}

    def other_session():  # runs while the second session shows its first utterance
        res, screen = _session(out, "1\ny\n2\ny\nq\n", empty_dir)
        first["screen"] = screen

    res, screen = _session(out, _Meanwhile("3\ny\ny\n", other_session), empty_dir)
    rows = _rows(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 3, ids
    assert [r["topics"] for r in rows] == [["dx"], ["privacy"], []]  # the first session's two, then a third
    assert f"not saved: {ids[0]} was labeled at {out}:1 while it was on screen" in screen
    assert f"skipped {ids[1]}: labeled at {out}:2 since this session started" in screen
    assert res.accepted == 1 and res.taken == 2
    assert "2 labeled meanwhile by another session" in screen
    labels, problems = read_labels(out, strict=False)
    assert not problems


def test_an_undone_label_is_shown_again_and_saved_once(tmp_path, empty_dir):
    """Undo rewrites --out; the index read again must not take the utterance for one labeled by another session."""
    out = tmp_path / "mine.jsonl"
    res, screen = _session(out, "1\ny\nu\n1\n2\ny\nq\n", empty_dir)
    shown = [line[4:] for line in screen.splitlines() if line.startswith("id: ")]
    assert shown[0] == shown[2] != shown[1] and "undone:" in screen and "labeled at" not in screen
    assert [(r["id"], r["topics"]) for r in _rows(out)] == [(shown[0], ["privacy"])]
    assert (res.accepted, res.undone, res.taken) == (1, 1, 0)


# --------------------------------------------------------------------------- Ctrl-C and SIGTERM

class _SignalAfter(io.StringIO):
    """Keystrokes, then a signal to this process while the session waits for the next one."""

    def __init__(self, keys, signum):
        super().__init__(keys)
        self.signum = signum

    def readline(self, *args):
        line = super().readline(*args)
        if not line:
            import os

            os.kill(os.getpid(), self.signum)
        return line


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_session_stopped_by_a_signal_exits_130_and_says_what_is_kept(tmp_path, empty_dir, monkeypatch, capsys,
                                                                        signame):
    """A supervisor's SIGTERM (or Ctrl-C) ended `label` with exit 0, as if the reader had quit."""
    import signal

    out = tmp_path / "mine.jsonl"
    monkeypatch.setattr("sys.stdin", _SignalAfter("1\ny\n", getattr(signal, signame)))
    code = main(["label", "--pool", str(POOL), "--out", str(out), "--labels", str(empty_dir), "--model", "none"])
    err = capsys.readouterr().err
    assert code == 130
    assert f"the 1 label(s) accepted in this session are saved in {out}" in err and "resume" in err
    assert "nothing was written" not in err
    assert [r["topics"] for r in _rows(out)] == [["dx"]]
    # quitting is still a normal end
    monkeypatch.setattr("sys.stdin", io.StringIO("q\n"))
    assert main(["label", "--pool", str(POOL), "--out", str(out), "--labels", str(empty_dir), "--model", "none"]) == 0


# --------------------------------------------------------------------------- labels merge meets labels already made

def _batch_of(tmp_path, recs, name="b"):
    pool = write_jsonl(tmp_path / f"{name}-pool.jsonl", [r.to_dict() for r in recs])
    assert main(["labels", "batch", str(pool), "--out-dir", str(tmp_path / name)]) == 0
    batch = tmp_path / name / "b-01.jsonl"
    return batch, [r["key"] for r in _rows(batch)]


def _answers(path, keys, topics):
    path.write_text("".join(f"{k}\t{t}\n" for k, t in zip(keys, topics)), encoding="utf-8")
    return path


def test_merge_of_a_batch_holding_labeled_utterances_keeps_the_same_and_names_the_conflicting(tmp_path, capsys):
    """A pool made before another batch was merged (or `corpus sample` without --exclude) holds utterances
    labeled since: merge refused the whole batch with 'X: already labeled' and no way out, as the batch file
    cannot be edited (its keys carry its hash)."""
    recs = list(read_jsonl(POOL))[:4]
    labels = tmp_path / "labels"
    out = labels / "mine.jsonl"
    first, keys1 = _batch_of(tmp_path, recs[:2], "one")
    assert main(["labels", "merge", str(first), str(_answers(tmp_path / "a1.tsv", keys1, ["dx", "urban"])),
                 "--out", str(out), "--annotator", "r1"]) == 0
    second, keys2 = _batch_of(tmp_path, recs, "two")  # the same two utterances again, and two new ones
    capsys.readouterr()
    answers = _answers(tmp_path / "a2.tsv", keys2, ["dx", "finance", "health", ""])
    before = out.read_bytes()
    assert main(["labels", "merge", str(second), str(answers), "--out", str(out), "--annotator", "r2"]) == 1
    err = capsys.readouterr().err
    assert f"{recs[1].id}: already labeled ['urban'] at {out}:2, here ['finance']" in err
    assert f"correct it at {out}:2 first" in err and "nothing was written" in err
    assert recs[0].id not in err  # answered as labeled: no conflict
    assert out.read_bytes() == before
    # the reader agrees to keep the label: the two already labeled are left as they are, the new ones appended
    answers = _answers(tmp_path / "a2.tsv", keys2, ["dx", "urban", "health", ""])
    assert main(["labels", "merge", str(second), str(answers), "--out", str(out), "--annotator", "r2"]) == 0
    assert "appended 2 labels" in capsys.readouterr().err
    assert [(r["id"], r["topics"], r["annotator"]) for r in _rows(out)] == [
        (recs[0].id, ["dx"], "r1"), (recs[1].id, ["urban"], "r1"), (recs[2].id, ["health"], "r2"),
        (recs[3].id, [], "r2")]
    # merging the same answers again adds nothing and says so
    assert main(["labels", "merge", str(second), str(answers), "--out", str(out), "--annotator", "r2"]) == 0
    assert "appended 0 labels" in capsys.readouterr().err and len(_rows(out)) == 4
    assert not read_labels(labels, strict=False)[1]


def test_merge_and_add_refuse_an_id_whose_label_does_not_validate(tmp_path, capsys):
    recs = list(read_jsonl(POOL))[:2]
    labels = tmp_path / "labels"
    labels.mkdir()
    write_jsonl(labels / "hand.jsonl", [{"id": recs[0].id, "text": recs[0].text, "topics": ["privcy"]}])
    batch, keys = _batch_of(tmp_path, recs)
    out = labels / "mine.jsonl"
    capsys.readouterr()
    assert main(["labels", "merge", str(batch), str(_answers(tmp_path / "a.tsv", keys, ["dx", ""])), "--out", str(out),
                 "--annotator", "t"]) == 1
    assert f"{recs[0].id}: already labeled at {labels / 'hand.jsonl'}:1, by a line `labels validate` refuses" in \
        capsys.readouterr().err
    assert main(["labels", "add", "--out", str(out), "--id", recs[0].id, "--text", recs[0].text, "--topics", "dx"]) == 1
    assert not out.exists()


# --------------------------------------------------------------------------- answers files as editors save them

def test_answers_with_a_byte_order_mark_a_tab_in_a_note_or_spaces_for_tabs(tmp_path, capsys):
    """Notepad and spreadsheets write a byte-order mark: the first key was read as '\\ufeffb-…' and the answers
    blamed on 'another batch'. A note holding a tab was cut at it without a word. Spaces where the tab
    should be (an editor's setting) were also blamed on another batch."""
    recs = list(read_jsonl(POOL))[:2]
    batch, keys = _batch_of(tmp_path, recs)
    answers = tmp_path / "a.tsv"
    out = tmp_path / "labels" / "m.jsonl"
    answers.write_text("\ufeff" + f"{keys[0]}\tdx\t予算\t要再確認\n{keys[1]}\t-\n", encoding="utf-8")
    assert main(["labels", "merge", str(batch), str(answers), "--out", str(out), "--annotator", "t"]) == 0
    rows = _rows(out)
    assert [(r["id"], r["topics"]) for r in rows] == [(recs[0].id, ["dx"]), (recs[1].id, [])]
    assert rows[0]["note"] == "予算\t要再確認" and "note" not in rows[1]
    for sep in ("    ", ","):
        answers.write_text(f"{keys[0]}{sep}dx\n{keys[1]}\t\n", encoding="utf-8")
        capsys.readouterr()
        assert main(["labels", "merge", str(batch), str(answers), "--out", str(tmp_path / "n.jsonl"),
                     "--annotator", "t"]) == 1
        err = capsys.readouterr().err
        assert f"the key {keys[0]} followed by {sep[0]!r} instead of a tab" in err and "another batch" not in err
    assert not (tmp_path / "n.jsonl").exists()


@pytest.mark.parametrize("which", ["reading file as batch", "swapped", "reading file as answers"])
def test_merge_given_the_wrong_file_says_which_file_it_expected(tmp_path, capsys, which):
    """`labels merge b-01.txt a.tsv` (the reading file) or the two files swapped said only
    'malformed JSON (Expecting value at column 1)'."""
    batch, keys = _batch_of(tmp_path, list(read_jsonl(POOL))[:2])
    answers = _answers(tmp_path / "a.tsv", keys, ["dx", ""])
    reading = batch.with_suffix(".txt")
    args = {"reading file as batch": (reading, answers), "swapped": (answers, batch),
            "reading file as answers": (batch, reading)}[which]
    capsys.readouterr()
    out = tmp_path / "labels" / "m.jsonl"
    assert main(["labels", "merge", *map(str, args), "--out", str(out), "--annotator", "t"]) == 1
    err = capsys.readouterr().err
    assert "usage: gikai-topics labels merge BATCH.jsonl ANSWERS.tsv" in err and "malformed JSON" not in err
    assert ("found the reading file" in err) == (which != "swapped") and not out.exists()


# --------------------------------------------------------------------------- Label Studio round trip

def test_label_studio_round_trip_keeps_ids_of_blanks(tmp_path, empty_dir):
    """`labels validate` accepts any non-empty id, and export wrote it; import refused an id of blanks only
    (' ', a full-width space) as 'must be a non-empty string … export tasks with `labels export`', so the
    whole round trip failed."""
    src = tmp_path / "src"
    src.mkdir()
    rows = [{"id": i, "text": f"防災訓練その{n}について伺います。", "topics": ["disaster"] if n else []}
            for n, i in enumerate([" ", "\u3000", "a b"])]
    write_jsonl(src / "x.jsonl", rows)
    tasks = tmp_path / "tasks.json"
    assert main(["labels", "export", "--labels", str(src), "--out", str(tasks)]) == 0
    out = tmp_path / "back.jsonl"
    assert main(["labels", "import", str(tasks), "--out", str(out), "--labels", str(empty_dir)]) == 0
    assert [(r["id"], r["topics"]) for r in _rows(out)] == [(r["id"], r["topics"]) for r in rows]
    data = json.loads(tasks.read_text(encoding="utf-8"))
    data[0]["data"]["utt_id"] = ""
    tasks.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main(["labels", "import", str(tasks), "--out", str(tmp_path / "n.jsonl"), "--labels", str(empty_dir)]) == 1


# --------------------------------------------------------------------------- labels add

def test_add_with_json_and_other_options_refuses_instead_of_dropping_them(tmp_path, capsys):
    """`labels add --json '{… "topics": []}' --topics disaster` wrote a zero-topic label: every option beside
    --json was dropped without a word."""
    out = tmp_path / "labels" / "x.jsonl"
    record = json.dumps({"id": "a1", "text": "避難所の備蓄について伺います。", "topics": []}, ensure_ascii=False)
    for extra in (["--topics", "disaster"], ["--topics", ""], ["--id", "b2"], ["--annotator", "me"]):
        capsys.readouterr()
        assert main(["labels", "add", "--out", str(out), "--json", record, *extra]) == 1, extra
        err = capsys.readouterr().err
        assert f"found also {extra[0]}" in err and "put those fields into the JSON" in err
    assert not out.exists()
    assert main(["labels", "add", "--out", str(out), "--json", record]) == 0
    assert main(["labels", "add", "--out", str(out), "--id", "b2", "--text", "ごみの分別について"]) == 0
    assert [(r["id"], r["topics"]) for r in _rows(out)] == [("a1", []), ("b2", [])]


# --------------------------------------------------------------------------- labels batch: all or nothing

@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError(28, "No space left on device")])
def test_batch_stopped_half_way_leaves_no_batch_and_can_run_again(tmp_path, capsys, monkeypatch, failure):
    """Ctrl-C, SIGTERM or a full disk after the first batch files: they stayed (while the CLI said 'nothing was
    written', or gave a traceback), and the next run was refused as 'batches readers may be answering'."""
    import train.labeling.batches as batches

    real, calls = batches.atomic_write_text, []

    def fails_on_the_fourth(path, text):
        calls.append(path)
        if len(calls) == 4:
            raise failure
        real(path, text)

    out_dir = tmp_path / "b"
    monkeypatch.setattr(batches, "atomic_write_text", fails_on_the_fourth)
    code = main(["labels", "batch", str(POOL), "--out-dir", str(out_dir), "--max-chars", "2000"])
    err = capsys.readouterr().err
    assert code == (130 if failure is KeyboardInterrupt else 1) and "Traceback" not in err
    assert "nothing was written" in err and not out_dir.exists()
    monkeypatch.setattr(batches, "atomic_write_text", real)
    assert main(["labels", "batch", str(POOL), "--out-dir", str(out_dir), "--max-chars", "2000"]) == 0
    assert len(list(out_dir.glob("b-*.jsonl"))) == len(list(out_dir.glob("b-*.txt"))) >= 2


def test_label_studio_edit_of_a_label_names_it_and_a_label_that_does_not_validate_is_not_added_twice(
        tmp_path, capsys):
    """An annotation changed in Label Studio was refused as 'X is already labeled [..], here [..]', saying
    neither where that label is nor what to do; an id whose label line does not validate was imported as new
    (a second label of the utterance)."""
    from conftest import fixture_label_rows

    labels = tmp_path / "labels"
    labels.mkdir()
    rows = fixture_label_rows()[:3]
    write_jsonl(labels / "a.jsonl", rows[:2])
    tasks = tmp_path / "tasks.json"
    assert main(["labels", "export", "--labels", str(labels), "--out", str(tasks)]) == 0
    data = json.loads(tasks.read_text(encoding="utf-8"))
    new_topics = ["finance"] if rows[1]["topics"] != ["finance"] else ["urban"]
    data[1]["annotations"][0]["result"] = [{"from_name": "topics", "to_name": "text", "type": "choices",
                                            "value": {"choices": new_topics}}]
    data.append({"id": 3, "data": {"utt_id": rows[2]["id"], "text": rows[2]["text"]},
                 "annotations": [{"result": []}]})
    tasks.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    write_jsonl(labels / "hand.jsonl", [{**rows[2], "topics": ["privcy"]}])
    out = labels / "label-studio.jsonl"
    capsys.readouterr()
    assert main(["labels", "import", str(tasks), "--out", str(out), "--labels", str(labels)]) == 1
    err = capsys.readouterr().err
    assert f"{rows[1]['id']} is already labeled {rows[1]['topics']} at {labels / 'a.jsonl'}:2, here {new_topics}" in err
    assert f"correct it at {labels / 'a.jsonl'}:2 first" in err
    assert f"{rows[2]['id']} is already labeled at {labels / 'hand.jsonl'}:1, by a line `labels validate` refuses" \
        in err
    assert not out.exists()


# --------------------------------------------------------------------------- what the session says it kept

def test_quit_with_topics_selected_says_they_were_not_saved(tmp_path, empty_dir):
    """q (or the end of input, or Ctrl-C) with topics toggled but not accepted dropped them without a word."""
    out = tmp_path / "mine.jsonl"
    res, screen = _session(out, "1\ny\n2 3\nq\n", empty_dir)
    shown = [line[4:] for line in screen.splitlines() if line.startswith("id: ")]
    assert f"not saved: the topics selected for {shown[1]} (privacy, disaster), which was not accepted (y)" in screen
    assert res.accepted == 1 and _ids(out) == [shown[0]]
    res, screen = _session(out, "u\n", empty_dir)  # a resumed session: undo says where the earlier label is
    assert f"nothing to undo in this session: u takes back labels accepted since it started; one of an earlier " \
           f"session is a line of {out}" in screen
    assert "not saved" not in screen


def test_ctrl_c_while_a_label_is_written_counts_it(tmp_path, empty_dir, monkeypatch):
    """A Ctrl-C during the write of an accepted label (its fsync) left the label in the file but not in the
    session's count: 'saved 0 label(s)' while one was saved, and undo could not reach it."""
    import os
    import signal

    import train.labeling.session as session

    real = session.append_line_durably

    def interrupted_write(path, line, **kw):
        real(path, line, **kw)
        os.kill(os.getpid(), signal.SIGINT)  # as if it arrived during the fsync

    monkeypatch.setattr(session, "append_line_durably", interrupted_write)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    out = tmp_path / "mine.jsonl"
    res, screen = _session(out, "1\ny\n2\ny\n", empty_dir)
    assert res.interrupted and res.accepted == 1 and len(_ids(out)) == 1
    assert f"1 label(s) saved to {out} this session" in screen and "not saved" not in screen


# --------------------------------------------------------------------------- labels pool

@pytest.mark.parametrize("extra, says", [(["--topics", "privacy"], "expected no --topics with --strategy random"),
                                         (["--topics", "privcy"], "expected no --topics with --strategy random"),
                                         (["--model", "gikai-topics:latest"], "the random strategy uses no model")])
def test_pool_refuses_what_a_random_draw_would_ignore(tmp_path, empty_dir, capsys, extra, says):
    """`labels pool --strategy random --topics privacy` wrote a random pool, exit 0: the topics (even a
    mistyped one) were dropped without a word."""
    out = tmp_path / "pool.jsonl"
    capsys.readouterr()
    assert main(["labels", "pool", "--pool", str(POOL), "--out", str(out), "--strategy", "random", "--labels",
                 str(empty_dir), "--size", "3", "--min-chars", "0", *extra]) == 1
    assert says in capsys.readouterr().err and not out.exists()
    assert main(["labels", "pool", "--pool", str(POOL), "--out", str(out), "--strategy", "random", "--labels",
                 str(empty_dir), "--size", "3", "--min-chars", "0", "--model", "none"]) == 0


def test_answers_with_an_unknown_topic_list_the_ids_expected(tmp_path, capsys):
    """A reader who wrote a topic's Japanese name or another word was told 'unknown topic id(s) ['防災'] for KEY'
    and not which ids there are."""
    batch, keys = _batch_of(tmp_path, list(read_jsonl(POOL))[:2])
    answers = _answers(tmp_path / "a.tsv", keys, ["防災", "DX"])
    capsys.readouterr()
    assert main(["labels", "merge", str(batch), str(answers), "--out", str(tmp_path / "m.jsonl"),
                 "--annotator", "t"]) == 1
    err = capsys.readouterr().err
    assert "a.tsv:1: unknown topic id(s) ['防災']" in err and "a.tsv:2: unknown topic id(s) ['DX']" in err
    assert "expected topic ids of the taxonomy, separated by ',' or spaces ('-' or nothing for no topic): dx, " \
           "privacy, disaster" in err and "nothing was written" in err


# --------------------------------------------------------------------------- rewrites and appends to one file

@pytest.mark.parametrize("rewrite", ["undo", "merge"])
def test_a_line_appended_while_the_file_is_rewritten_is_not_lost(tmp_path, monkeypatch, rewrite):
    """Undo (remove_label) and labels merge / import rewrite the whole label file by rename. A label another
    session appended between their read and their rename was in the replaced version only: lost."""
    import threading

    import train.labeling.editing as editing
    import train.labeling.session as session
    from train.appending import append_line_durably

    recs = list(read_jsonl(POOL))[:3]
    out = tmp_path / "labels" / "mine.jsonl"
    out.parent.mkdir()
    write_jsonl(out, [{"id": recs[0].id, "text": recs[0].text, "topics": ["dx"]}])
    module, name = (session, "atomic_write_bytes") if rewrite == "undo" else (editing, "atomic_write_text")
    real = getattr(module, name)
    has_read, go_on = threading.Event(), threading.Event()

    def slow_rewrite(path, data):  # the rewrite has read the file; another session appends now
        has_read.set()
        go_on.wait(10)
        real(path, data)

    monkeypatch.setattr(module, name, slow_rewrite)
    if rewrite == "undo":
        work = threading.Thread(target=session.remove_label, args=(out, recs[0].id))
    else:
        from train.taxonomy import load_taxonomy

        batch, keys = _batch_of(tmp_path, recs[1:2])
        answers = _answers(tmp_path / "a.tsv", keys, [""])
        work = threading.Thread(target=editing.merge_answers, args=(batch, answers, out),
                                kwargs={"annotator": "t", "taxonomy": load_taxonomy()})
    work.start()
    assert has_read.wait(10)
    other = threading.Thread(target=append_line_durably, args=(out, json.dumps(
        {"id": recs[2].id, "text": recs[2].text, "topics": ["finance"]}, ensure_ascii=False)))
    other.start()
    other.join(0.3)  # the appender waits for the rewrite (before the fix it appended at once, to the old file)
    go_on.set()
    work.join(10)
    other.join(10)
    ids = _ids(out)
    assert recs[2].id in ids
    assert ids == ([recs[2].id] if rewrite == "undo" else [recs[0].id, recs[1].id, recs[2].id])


def test_a_merge_that_fails_leaves_no_empty_label_file(tmp_path, monkeypatch):
    """The lock a merge takes creates a missing --out: a merge that then fails must not leave it behind."""
    import train.labeling.editing as editing
    from train.taxonomy import load_taxonomy

    def full_disk(path, text):
        raise OSError(28, "No space left on device")

    batch, keys = _batch_of(tmp_path, list(read_jsonl(POOL))[:1])
    answers = _answers(tmp_path / "a.tsv", keys, ["dx"])
    monkeypatch.setattr(editing, "atomic_write_text", full_disk)
    out = tmp_path / "labels" / "new.jsonl"
    with pytest.raises(OSError):
        editing.merge_answers(batch, answers, out, annotator="t", taxonomy=load_taxonomy())
    assert not out.exists()


# --------------------------------------------------------------------------- validate

def test_a_selection_note_that_is_not_text_is_reported_not_read_as_random(tmp_path, capsys):
    """A hand-edited `"selection": ["uncertainty:dx (m)"]` was read as no note: the model-chosen label was then
    scored by evaluate, and validate said ok."""
    write_jsonl(tmp_path / "a.jsonl", [{"id": "s1", "text": "防災訓練について", "topics": ["disaster"],
                                        "selection": ["uncertainty:dx (m)"]},
                                       {"id": "s2", "text": "ごみの分別について", "topics": [], "selection": None}])
    assert main(["labels", "validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "a.jsonl:1: 'selection' must be a string or null" in out and "a.jsonl:2" not in out
