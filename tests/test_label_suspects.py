"""`labels suspects`: the labels a cross-validated model disagrees with most, listed for readers to re-read (the model
orders the reading; the readers' file holds no score and no suspected topic)."""

import json
import random

import numpy as np
import pytest

from conftest import fixture_label_rows, jsonl_rows, write_jsonl
from train.cli import main
from train.config import TrainConfig
from train.errors import InputError
from train.labeling.store import read_labels
from train.labeling.suspects import READER_FIELDS, find_suspects

#: the fixture label whose text is plainly about personal information (個人情報 … 目的外利用 under the ordinance
#: and the new act): privacy is taken off it, so the model, which never sees it, should put privacy back
FLIPPED = "shinagawa:r05-20231003-4:0214"
#: a quick recipe (no word vectors; every term kept: the fixture is tiny) with the single best cut for thresholds:
#: on 67 labels the smoothed rule sets the threshold of a topic the model cannot find yet (disaster: out-of-fold
#: F1 0.15 at best) at the lowest one, tagging everything scoring as well as any cut, and those disagreements then
#: crowd the fixture's one planted error down the list.  These tests are about the listing, not the rule
#: (tests/test_threshold_rules.py); the best cut keeps the planted error on top.
BEST_CUT = {"rule": "best_cut"}
QUICK = TrainConfig().replace(features={"min_df": 1, "vectors": "none", "general_vectors": "none"},
                              thresholds=BEST_CUT)


def flipped_rows() -> list[dict]:
    rows = fixture_label_rows()
    row = next(r for r in rows if r["id"] == FLIPPED)
    assert "個人情報" in row["text"] and "privacy" in row["topics"]
    row["topics"] = [t for t in row["topics"] if t != "privacy"]
    return rows


@pytest.fixture
def flipped(tmp_path):
    d = tmp_path / "labels"
    d.mkdir()
    write_jsonl(d / "labels.jsonl", flipped_rows())
    return d


@pytest.fixture
def quick_toml(tmp_path):
    path = tmp_path / "quick.toml"
    path.write_text('[features]\nmin_df = 1\nvectors = "none"\ngeneral_vectors = "none"\n'
                    '[thresholds]\nrule = "best_cut"\n', encoding="utf-8")
    return path


def _run(labels_dir, **kw):
    kw = {"folds": 3, "size": 10, **kw}
    return find_suspects(read_labels(labels_dir)[0], kw.pop("config", QUICK), **kw)


def _cli(labels_dir, out, *extra, config=None):
    return main(["labels", "suspects", "--labels", str(labels_dir), "--out", str(out), "--folds", "3",
                 *(["--config", str(config)] if config else []), *extra])


@pytest.mark.parametrize("config", [QUICK, TrainConfig().replace(features={"min_df": 1}, thresholds=BEST_CUT)],
                         ids=["quick", "vectors"])
def test_a_flipped_label_comes_out_on_top(flipped, config):
    run = _run(flipped, config=config)
    top = [s.example.id for s in run.suspects[:3]]
    assert FLIPPED in top, top
    suspect = next(s for s in run.suspects if s.example.id == FLIPPED)
    privacy = next(d for d in suspect.disagreements if d.topic == "privacy")
    assert privacy.label is False and privacy.by_model == "added" and privacy.score >= privacy.threshold
    # strength: the distance from the threshold on the logit scale; a label's suspicion is its strongest
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert privacy.strength == pytest.approx(abs(logit(privacy.score) - logit(privacy.threshold)))
    assert suspect.suspicion == max(d.strength for d in suspect.disagreements)
    assert [d.strength for d in suspect.disagreements] == sorted((d.strength for d in suspect.disagreements),
                                                                 reverse=True)
    assert [s.suspicion for s in run.suspects] == sorted((s.suspicion for s in run.suspects), reverse=True)
    assert run.scored == 67 and len(run.suspects) == 10 and run.disagreeing >= 10
    assert set(run.thresholds) == set(read_labels(flipped)[0].taxonomy.ids)
    lo, hi = config.thresholds.min_threshold, config.thresholds.max_threshold
    assert all(lo <= t <= hi for t in run.thresholds.values())
    assert 0 < run.oof_macro_f1 < 1


def test_the_files_as_documented(flipped, tmp_path, quick_toml, capsys):
    out, view = tmp_path / "out" / "suspects.jsonl", tmp_path / "view.jsonl"
    assert _cli(flipped, out, "--size", "5", "--model-view", str(view), config=quick_toml) == 0
    err = capsys.readouterr().err
    readers, model = jsonl_rows(out), jsonl_rows(view)
    assert len(readers) == len(model) == 5
    by_id = {r["id"]: r for r in flipped_rows()}
    for line in readers:  # the utterance and its current topics, nothing of the model's view
        assert tuple(line) == READER_FIELDS == ("id", "municipality", "date", "speaker", "current_topics", "text")
        label = by_id[line["id"]]
        assert line == {"id": label["id"], "municipality": label["municipality"], "date": label["date"],
                        "speaker": label["speaker"], "current_topics": label["topics"], "text": label["text"]}
    assert "score" not in out.read_text(encoding="utf-8") and "suspicion" not in out.read_text(encoding="utf-8")
    assert [m["id"] for m in model] == [r["id"] for r in readers]  # the same labels, strongest first
    assert [m["suspicion"] for m in model] == sorted((m["suspicion"] for m in model), reverse=True)
    for m in model:
        assert list(m) == ["id", "suspicion", "disagreements"] and m["disagreements"]
        for d in m["disagreements"]:
            assert list(d) == ["topic", "label", "score", "threshold"] and isinstance(d["label"], bool)
            assert (d["topic"] in by_id[m["id"]]["topics"]) == d["label"]  # the label's side of the disagreement
            assert (d["score"] >= d["threshold"]) != d["label"]
    # the summary: what was scored, the OOF macro-F1, how many disagree, what was written, per topic, what next
    assert "67 labels scored out of fold (3 folds" in err and "macro-F1 0." in err
    assert "labels disagree with the model on at least one topic" in err
    assert f"wrote 5 suspect(s), strongest first, to {out}" in err and f"the model's view to {view}" in err
    assert "privacy +" in err and "labels revise ANSWERS.tsv --reviewer" in err


def test_the_same_labels_and_seed_give_the_same_suspects_whatever_the_files(flipped, tmp_path, quick_toml):
    first, again = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert _cli(flipped, first, "--size", "20", config=quick_toml) == 0
    rows = flipped_rows()
    random.Random(3).shuffle(rows)  # other files, other order: the labels are taken in id order
    split = tmp_path / "split"
    split.mkdir()
    write_jsonl(split / "x.jsonl", rows[:30])
    write_jsonl(split / "y.jsonl", rows[30:])
    assert _cli(split, again, "--size", "20", config=quick_toml) == 0
    assert first.read_bytes() == again.read_bytes()
    # another seed draws other folds (the ranking may move), through the function as through the CLI
    a, b = _run(flipped, seed=0, size=67), _run(flipped, seed=1, size=67)
    assert [s.example.id for s in _run(flipped, seed=0, size=67).suspects] == [s.example.id for s in a.suspects]
    assert [s.suspicion for s in a.suspects] != [s.suspicion for s in b.suspects]


def test_folds_in_processes_give_the_same_suspects(flipped):
    one, two = _run(flipped, jobs=1, size=67), _run(flipped, jobs=2, size=67)
    assert [(s.example.id, s.suspicion) for s in one.suspects] == [(s.example.id, s.suspicion) for s in two.suspects]


def test_topics_restricts_what_counts(flipped, tmp_path, quick_toml, capsys):
    run = _run(flipped, topics=["privacy", "dx"], size=67)
    assert run.topics == ("dx", "privacy")  # in taxonomy order
    assert [s.model_view() for s in _run(flipped, topics=" privacy,dx", size=67).suspects] == [
        s.model_view() for s in run.suspects]  # as --topics gives them
    assert run.suspects and all(d.topic in {"dx", "privacy"} for s in run.suspects for d in s.disagreements)
    assert run.suspects[0].example.id == FLIPPED
    every = _run(flipped, size=67)
    assert run.disagreeing < every.disagreeing
    assert set(run.topic_counts()) <= {"dx", "privacy"} and run.topic_counts()["privacy"][0] >= 1
    out, view = tmp_path / "s.jsonl", tmp_path / "v.jsonl"
    assert _cli(flipped, out, "--topics", "privacy", "--model-view", str(view), config=quick_toml) == 0
    assert {d["topic"] for m in jsonl_rows(view) for d in m["disagreements"]} == {"privacy"}
    assert jsonl_rows(out)[0]["id"] == FLIPPED
    assert "on at least one topic (counting privacy only)" in capsys.readouterr().err


def test_adjudicated_labels_are_left_out_unless_asked_for(flipped, tmp_path, quick_toml, capsys):
    """A label decided again already (here by `labels revise`, which writes the 'adjudicated' note) is scored and
    trains the other folds, but is not listed again unless --include-adjudicated."""
    out = tmp_path / "s.jsonl"
    assert _cli(flipped, out, "--size", "3", config=quick_toml) == 0
    assert FLIPPED in [r["id"] for r in jsonl_rows(out)]
    answers = tmp_path / "answers.tsv"  # the reader keeps the label as it is: no change, no note
    answers.write_text(f"{FLIPPED}\tadministration\tkept\n", encoding="utf-8")
    assert main(["labels", "revise", str(answers), "--reviewer", "reader-T", "--reason", "re-read",
                 "--labels", str(flipped)]) == 0
    assert "adjudicated" not in (flipped / "labels.jsonl").read_text(encoding="utf-8")
    # the reader decides otherwise this time (the label changes, so it gets the note): decided, left out
    answers.write_text(f"{FLIPPED}\tadministration,economy\tre-read\n", encoding="utf-8")
    assert main(["labels", "revise", str(answers), "--reviewer", "reader-T", "--reason", "re-read",
                 "--labels", str(flipped)]) == 0
    assert {e.id: e.adjudicated for e in read_labels(flipped)[0].examples}[FLIPPED] == "re-read (reader-T): re-read"
    capsys.readouterr()
    by_default, included = _run(flipped, size=67), _run(flipped, size=67, include_adjudicated=True)
    assert FLIPPED not in [s.example.id for s in by_default.suspects]
    assert by_default.adjudicated_left_out == 1 and by_default.eligible == 66 and by_default.scored == 67
    assert included.adjudicated_left_out == 0 and included.eligible == 67
    assert [s for s in included.suspects if s.example.id != FLIPPED] == by_default.suspects  # same scores
    assert _cli(flipped, out, "--size", "67", config=quick_toml) == 0
    assert "1 decided again already" in capsys.readouterr().err and FLIPPED not in [r["id"] for r in jsonl_rows(out)]
    assert _cli(flipped, out, "--size", "67", "--include-adjudicated", config=quick_toml) == 0
    assert FLIPPED in [r["id"] for r in jsonl_rows(out)]


def test_labels_read_again_already_are_left_out_with_exclude(flipped, tmp_path, quick_toml, capsys):
    """--exclude takes the earlier round's files as they are (the suspects JSONL a round read, a reader's answers
    TSV): their labels, read again and kept unchanged (so without an 'adjudicated' note), are scored and train the
    other folds but are not listed again; the next strongest take their places."""
    first = tmp_path / "first.jsonl"
    assert _cli(flipped, first, "--size", "5", config=quick_toml) == 0
    read = [r["id"] for r in jsonl_rows(first)]
    assert FLIPPED in read
    answers = tmp_path / "answers.tsv"  # a reader's answers for the first two, with a byte-order mark and CRLF
    answers.write_text("\ufeff" + "".join(f"{i}\t-\tunchanged\r\n" for i in read[:2]), encoding="utf-8")
    full = _run(flipped, size=67)
    kept = _run(flipped, size=67, exclude=[answers])
    assert kept.excluded_left_out == 2 and kept.eligible == full.eligible - 2
    assert [s for s in full.suspects if s.example.id not in read[:2]] == kept.suspects  # same scores, same order
    capsys.readouterr()
    second = tmp_path / "second.jsonl"
    assert _cli(flipped, second, "--size", "5", "--exclude", str(first), "--exclude", str(answers),
                config=quick_toml) == 0
    assert "5 read again already, listed by --exclude, left out" in capsys.readouterr().err
    assert not set(read) & {r["id"] for r in jsonl_rows(second)}
    assert [r["id"] for r in jsonl_rows(second)] == [s.example.id for s in full.suspects[5:10]]
    # a folder stands for its reading files: the same as naming them
    round1 = tmp_path / "round1"
    round1.mkdir()
    first.rename(round1 / "first.jsonl")
    answers.rename(round1 / "answers.tsv")
    (round1 / "notes.txt").write_text("not a reading file", encoding="utf-8")
    by_folder = _run(flipped, size=67, exclude=[round1])
    assert by_folder.suspects == _run(flipped, size=67, exclude=[round1 / "first.jsonl"]).suspects
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="a folder with no .jsonl or .tsv file"):
        _run(flipped, exclude=[empty])


@pytest.mark.parametrize("name, content, expected", [
    ("first.jsonl", '{"id": 3}\n', 'first.jsonl:1: expected a JSON object with a string "id"'),
    ("first.jsonl", '["a"]\n', 'first.jsonl:1: expected a JSON object with a string "id"'),
    ("first.jsonl", '{"id": "a"\n', "first.jsonl:1: malformed JSON"),
    ("answers.tsv", "nobody:1\t-\tunchanged\n", "none of its 1 id(s) is a label here (e.g. 'nobody:1'): check that "
                                                  "--labels is the label set it was read from"),
    ("answers.tsv", '{"id": "a"}\n', "answers.tsv:1: a JSON line in a TSV file"),
    ("answers.tsv", "\t-\tunchanged\n", "answers.tsv:1: no id before the first tab"),
    ("answers.tsv", "# nothing answered yet\n\n", "answers.tsv: no ids found"),
    ("first.jsonl", "", "first.jsonl: no ids found"),
    ("r1-answers.tsv", "r1-3f9a2c-0001\tdx\n", "its keys are `labels batch` keys (e.g. 'r1-3f9a2c-0001'), not label "
                                                "ids: pass the batch .jsonl beside it"),
], ids=["id-not-a-string", "not-an-object", "malformed", "another-label-set", "json-in-tsv", "no-id", "comments-only",
        "empty", "batch-keys"])
def test_a_bad_exclude_file_is_refused_before_any_fitting(flipped, tmp_path, quick_toml, capsys, name, content,
                                                          expected):
    bad = tmp_path / name
    bad.write_text(content, encoding="utf-8")
    out = tmp_path / "s.jsonl"
    for path, message in ((bad, expected), (tmp_path / "nope.jsonl", "nope.jsonl: no such --exclude reading file")):
        assert _cli(flipped, out, "--exclude", str(path), config=quick_toml) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "fitting" not in err, err
        assert not out.exists()


def test_exclude_reads_comments_subfolders_and_a_batch_rounds_folder(flipped, tmp_path):
    """A round's folder read whole (subfolders too): its batch JSONL carries the ids, the answers beside it are keyed
    by batch keys and skipped; '#' lines of an answers file are comments."""
    ids = [r["id"] for r in flipped_rows()[:3]]
    rnd = tmp_path / "round"
    (rnd / "answers").mkdir(parents=True)
    write_jsonl(rnd / "r-01.jsonl", [{"key": f"r-3f9a2c-{n:04d}", "id": i} for n, i in enumerate(ids[:2], 1)])
    (rnd / "answers" / "r-01.tsv").write_text("r-3f9a2c-0001\tdx\nr-3f9a2c-0002\t-\n", encoding="utf-8")
    (rnd / "answers" / "revise.tsv").write_text(f"# reader-X\n{ids[2]}\t-\tunchanged\n", encoding="utf-8")
    run = _run(flipped, size=67, exclude=[rnd])
    assert run.excluded_left_out == 3 and not set(ids) & {s.example.id for s in run.suspects}
    assert _run(flipped, size=67, exclude=rnd).suspects == run.suspects  # one path, not a list of its characters


def test_the_output_may_not_be_an_exclude_file(flipped, tmp_path, quick_toml, capsys):
    """Run again with the same command, a suspects file given to --exclude and written by --out would read its own
    list as read already and replace the file the readers work from: refused, as for the labels."""
    first = tmp_path / "round1" / "suspects.jsonl"
    first.parent.mkdir()
    write_jsonl(first, [{"id": flipped_rows()[0]["id"]}])
    before = first.read_bytes()
    for out in (first, first.parent / "next.jsonl"):
        assert _cli(flipped, out, "--exclude", str(first.parent), config=quick_toml) == 1
        err = capsys.readouterr().err
        assert "--out" in err and "input" in err and err.count("\n") == 1, err
    assert first.read_bytes() == before and not (first.parent / "next.jsonl").exists()


def test_bad_input_is_refused_and_nothing_is_written(flipped, tmp_path, quick_toml, capsys):
    out, view = tmp_path / "s.jsonl", tmp_path / "v.jsonl"
    cases = [(["--topics", "privacy,privcy"], "--topics: expected topic ids of the taxonomy"),
             (["--size", "0"], "--size: expected how many labels to write, a whole number >= 1, found 0"),
             (["--folds", "1"], "--folds: expected a whole number >= 2"),
             (["--folds", "68"], "--folds 68: expected at least as many distinct labeled utterances as folds"),
             (["--jobs", "0"], "expected a positive integer or -1"),
             (["--labels", str(tmp_path / "lables")], "no such labels file or folder"),
             (["--config", str(tmp_path / "nope.toml")], "config file not found"),
             (["--out", str(tmp_path)], "is a folder; expected a file path"),
             (["--out", str(flipped / "suspects.jsonl")], "lies inside the input folder"),
             (["--model-view", str(out)], "is also --out; expected two different files"),
             (["--model-view", str(flipped / "labels.jsonl")], "lies inside the input folder"),
             # a label file given alone is one of its folder's labels: a suspects file beside it would be read back
             (["--labels", str(flipped / "labels.jsonl"), "--out", str(flipped / "s.jsonl")], "lies inside the input")]
    before = (flipped / "labels.jsonl").read_bytes()
    for extra, expected in cases:
        args = ["labels", "suspects", "--labels", str(flipped), "--out", str(out), "--model-view", str(view),
                "--config", str(quick_toml), *extra]
        assert main(args) == 1, extra
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1, (extra, err)
        assert not out.exists() and not view.exists(), extra
        assert sorted(p.name for p in flipped.iterdir()) == ["labels.jsonl"], extra
    assert (flipped / "labels.jsonl").read_bytes() == before
    # every label decided again already: nothing to review unless asked
    rows = [dict(r, adjudicated="majority of three independent readings") for r in flipped_rows()]
    decided = tmp_path / "decided"
    decided.mkdir()
    write_jsonl(decided / "labels.jsonl", rows)
    with pytest.raises(InputError, match="pass --include-adjudicated"):
        _run(decided)
    assert _run(decided, include_adjudicated=True).suspects
