"""Labels must never be lost or changed on the way in: Label Studio import/export, `labels batch` and
`labels merge`, and the `selection` note of the terminal session (review 7)."""

import gzip
import io
import json

import pytest

from conftest import FIXTURES, write_jsonl
from train.cli import main
from train.corpus import read_jsonl
from train.errors import InputError, LabelError
from train.labeling.labelstudio import parse_label_studio
from train.labeling.store import read_labels
from train.taxonomy import load_taxonomy

POOL = FIXTURES / "corpus_sample.jsonl"


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


@pytest.fixture
def empty_dir(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d


# --------------------------------------------------------------------------- Label Studio: what a result must hold

def _task(uid, result, text="避難所の備蓄物資について伺います。"):
    return {"id": 1, "data": {"utt_id": uid, "text": text}, "annotations": [{"result": result}]}


def _choices(choices, from_name="topics", kind="choices"):
    return {"from_name": from_name, "to_name": "text", "type": kind, "value": {"choices": choices}}


def _import(tmp_path, empty_dir, tasks, capsys):
    src = tmp_path / "export.json"
    src.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "ls.jsonl"
    capsys.readouterr()
    code = main(["labels", "import", str(src), "--out", str(out), "--labels", str(empty_dir)])
    return code, out, capsys.readouterr().err


@pytest.mark.parametrize("result, says", [
    ([_choices(["disaster"], from_name="topic")], "found choices from 'topic'"),
    ([_choices(["disaster"]), _choices(["dx"], from_name="second")], "found choices from 'second'"),
    ([{"from_name": "topics", "to_name": "text", "type": "taxonomy", "value": {"taxonomy": [["dx"]]}}],
     "type 'choices', found 'taxonomy'"),
    ([{"from_name": "comment", "to_name": "text", "type": "textarea", "value": {"text": ["防災"]}}],
     "found only ['comment/textarea']"),
    (["disaster"], "expected each result item to be an object"),
])
def test_label_studio_result_without_the_topics_choices_is_refused(tmp_path, empty_dir, capsys, result, says):
    """A renamed or retyped control used to import as a zero-topic label: the reader's choice was lost."""
    code, out, err = _import(tmp_path, empty_dir, [_task("z1", result)], capsys)
    assert code == 1 and says in err and "task 1" in err and "nothing was written" in err
    assert "labels export --config-out" in err or "object" in err  # says how to fix
    assert "Traceback" not in err and not out.exists()


def test_label_studio_file_that_never_names_topics_says_so_once(tmp_path, capsys, empty_dir):
    tasks = [_task("z1", [_choices(["disaster"], from_name="topic")]),
             _task("z2", [_choices(["dx"], from_name="topic")], text="マイナンバーカードについて伺います。")]
    code, out, err = _import(tmp_path, empty_dir, tasks, capsys)
    assert code == 1 and not out.exists()
    assert "no annotation result names the 'topics' control, found only ['topic']" in err


def test_label_studio_empty_result_is_still_zero_topics(tmp_path, empty_dir, capsys):
    """What Label Studio records when the reader chose nothing, and what export writes for zero topics."""
    tasks = [_task("z1", [_choices(["disaster"]),
                          {"from_name": "comment", "to_name": "text", "type": "textarea", "value": {"text": ["x"]}}]),
             _task("z2", [], text="マイナンバーカードについて伺います。")]
    code, out, err = _import(tmp_path, empty_dir, tasks, capsys)
    assert code == 0, err
    assert [(r["id"], r["topics"]) for r in _rows(out)] == [("z1", ["disaster"]), ("z2", [])]


def test_label_studio_refusals_raise_label_error(tmp_path, empty_dir):
    src = tmp_path / "export.json"
    src.write_text(json.dumps([_task("z1", [_choices(["disaster"], from_name="topic")])]), encoding="utf-8")
    with pytest.raises(LabelError, match="task 1"):
        parse_label_studio(src, load_taxonomy(), [empty_dir])


# --------------------------------------------------------------------------- labels batch / labels merge

def _batch(pool, out_dir, *extra):
    return main(["labels", "batch", str(pool), "--out-dir", str(out_dir), *extra])


def _keys(batch):
    return [r["key"] for r in _rows(batch)]


def _answer_all(path, keys, topics="dx"):
    path.write_text("".join(f"{k}\t{topics}\n" for k in keys), encoding="utf-8")
    return path


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_second_batch_run_into_the_same_folder_is_refused_and_changes_nothing(tmp_path, capsys):
    recs = list(read_jsonl(POOL))
    first, second = write_jsonl(tmp_path / "a.jsonl", [r.to_dict() for r in recs[:4]]), \
        write_jsonl(tmp_path / "b.jsonl", [r.to_dict() for r in recs[4:8]])
    out_dir = tmp_path / "batches"
    assert _batch(first, out_dir, "--max-chars", "1500") == 0
    before = _snapshot(out_dir)
    capsys.readouterr()
    assert _batch(second, out_dir) == 1
    err = capsys.readouterr().err
    assert "expected no batch files of prefix 'b'" in err and "b-01.jsonl" in err
    assert "choose another --out-dir or --prefix" in err and "Traceback" not in err
    assert _snapshot(out_dir) == before
    # another prefix in the same folder is fine, and so is a prefix that merely starts the same way
    assert _batch(second, out_dir, "--prefix", "b2") == 0 and _batch(second, out_dir, "--prefix", "b-x") == 0
    assert {p.name for p in out_dir.iterdir()} >= {"b2-01.txt", "b-x-01.jsonl"}


def test_answers_to_one_run_never_merge_onto_another_runs_batch(tmp_path, capsys):
    """Two runs write b-01.jsonl in two folders: keys carry the hash of the batch's utterances, so answers
    written for the first cannot land on the second's utterances."""
    recs = list(read_jsonl(POOL))
    first, second = write_jsonl(tmp_path / "a.jsonl", [r.to_dict() for r in recs[:3]]), \
        write_jsonl(tmp_path / "b.jsonl", [r.to_dict() for r in recs[3:6]])
    assert _batch(first, tmp_path / "one") == 0 and _batch(second, tmp_path / "two") == 0
    keys1, keys2 = _keys(tmp_path / "one" / "b-01.jsonl"), _keys(tmp_path / "two" / "b-01.jsonl")
    assert not set(keys1) & set(keys2)
    assert all(k.startswith("b-") and k.endswith(f"-{n:04d}") for n, k in enumerate(keys1, 1))
    reading = (tmp_path / "one" / "b-01.txt").read_text(encoding="utf-8")
    assert [line.split(" | ")[0][4:] for line in reading.splitlines() if line.startswith("### ")] == keys1
    answers = _answer_all(tmp_path / "a.tsv", keys1)
    out = tmp_path / "labels" / "m.jsonl"
    capsys.readouterr()
    assert main(["labels", "merge", str(tmp_path / "two" / "b-01.jsonl"), str(answers), "--out", str(out),
                 "--annotator", "t"]) == 1
    err = capsys.readouterr().err
    assert "expected one answer for each of the 3 items" in err and "another run of `labels batch`" in err
    assert not out.exists()
    assert main(["labels", "merge", str(tmp_path / "one" / "b-01.jsonl"), str(answers), "--out", str(out),
                 "--annotator", "t"]) == 0
    assert [r["id"] for r in _rows(out)] == [r.id for r in recs[:3]]


def test_a_prefix_with_a_dot_keeps_every_batch_and_a_path_is_refused(tmp_path, capsys):
    pool = write_jsonl(tmp_path / "p.jsonl", [r.to_dict() for r in list(read_jsonl(POOL))[:8]])
    out_dir = tmp_path / "b"
    assert _batch(pool, out_dir, "--prefix", "round1.6", "--max-chars", "1500") == 0
    names = sorted(p.name for p in out_dir.iterdir())
    n = len(names) // 2
    assert n >= 2 and names == sorted(f"round1.6-{i:02d}.{ext}" for i in range(1, n + 1) for ext in ("jsonl", "txt"))
    assert sum(len(_rows(out_dir / f"round1.6-{i:02d}.jsonl")) for i in range(1, n + 1)) == 8
    for bad in ("a/b", "../b", "", "a b", "a|b"):
        capsys.readouterr()
        assert _batch(pool, tmp_path / "c", "--prefix", bad) == 1, bad
        err = capsys.readouterr().err
        assert "--prefix: expected a short name without path separators" in err and "Traceback" not in err
    assert not (tmp_path / "c").exists() and not (tmp_path / "b.txt").exists()


@pytest.mark.parametrize("rows, says", [
    ([{"key": "b-0001", "id": "q1"}], "expected a batch record with 'key', 'id' (strings) and a non-empty 'text'"),
    ([{"key": "b-0001", "id": "q1", "text": 5}], "non-empty 'text'"),
    ([{"key": "b-0001", "id": "q1", "text": "abc"}, {"key": "b-0001", "id": "q2", "text": "def"}],
     "key 'b-0001' again (first on line 1)"),
])
def test_merge_refuses_a_batch_without_text_or_with_a_key_twice(tmp_path, capsys, rows, says):
    batch = write_jsonl(tmp_path / "b-01.jsonl", rows)
    answers = _answer_all(tmp_path / "a.tsv", ["b-0001"])
    out = tmp_path / "labels" / "m.jsonl"
    capsys.readouterr()
    assert main(["labels", "merge", str(batch), str(answers), "--out", str(out), "--annotator", "t"]) == 1
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and not out.exists()


def test_merge_refuses_a_batch_file_whose_records_no_longer_match_its_keys(tmp_path, capsys):
    pool = write_jsonl(tmp_path / "p.jsonl", [r.to_dict() for r in list(read_jsonl(POOL))[:4]])
    assert _batch(pool, tmp_path / "b") == 0
    batch = tmp_path / "b" / "b-01.jsonl"
    rows = _rows(batch)
    rows[1]["id"], rows[1]["text"] = "other", "学校給食の無償化について伺います。"  # another utterance under the key
    write_jsonl(batch, rows)
    answers = _answer_all(tmp_path / "a.tsv", [r["key"] for r in rows])
    out = tmp_path / "labels" / "m.jsonl"
    capsys.readouterr()
    assert main(["labels", "merge", str(batch), str(answers), "--out", str(out), "--annotator", "t"]) == 1
    err = capsys.readouterr().err
    assert "expected every key to carry the hash of this batch's utterances" in err and not out.exists()


def test_merge_still_reads_a_batch_written_before_keys_had_a_hash(tmp_path):
    recs = list(read_jsonl(POOL))[:2]
    batch = write_jsonl(tmp_path / "b-01.jsonl", [{"key": f"b-{i:04d}", **r.to_dict()} for i, r in enumerate(recs, 1)])
    answers = _answer_all(tmp_path / "a.tsv", ["b-0001", "b-0002"], topics="finance")
    out = tmp_path / "labels" / "m.jsonl"
    assert main(["labels", "merge", str(batch), str(answers), "--out", str(out), "--annotator", "t"]) == 0
    assert [(r["id"], r["topics"], r["batch"]) for r in _rows(out)] == [(r.id, ["finance"], "b-01") for r in recs]


def test_batch_reads_a_gzipped_pool_with_its_selection_notes(tmp_path, capsys):
    rows = [{**r.to_dict(), "selection": f"uncertainty:dx (m:{i})"} for i, r in enumerate(list(read_jsonl(POOL))[:3])]
    pool = tmp_path / "pool.jsonl.gz"
    with gzip.open(pool, "wt", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    assert _batch(pool, tmp_path / "b") == 0, capsys.readouterr().err
    assert [(r["id"], r["selection"]) for r in _rows(tmp_path / "b" / "b-01.jsonl")] == \
        [(r["id"], r["selection"]) for r in rows]


def test_read_selection_turns_bad_bytes_into_an_input_error(tmp_path):
    from train.labeling.pool import read_selection

    pool = tmp_path / "pool.jsonl"
    pool.write_bytes(b'{"id": "a", "text": "x", "selection": "random"}\n{"id": "b", "text": "\xff"}\n')
    with pytest.raises(InputError, match=r"pool.jsonl:2: invalid UTF-8 at byte"):
        read_selection(pool)


# --------------------------------------------------------------------------- the terminal session's selection note

def _session(out, keys, labels_dir, **kw):
    from train.labeling.session import run_label_session

    return run_label_session([POOL], out, labels_dir=labels_dir, annotator="tester", stdin=io.StringIO(keys),
                             stdout=io.StringIO(), **kw)


def test_session_in_uncertainty_order_records_a_model_chosen_selection(tmp_path, empty_dir, trained_model_dir):
    """Labels read because the model was unsure must not be scored as if drawn at random."""
    from train.inference import load_model
    from train.labeling.session import Item

    out = tmp_path / "al.jsonl"
    _session(out, "y\ny\ny\nq\n", empty_dir, model=str(trained_model_dir))
    tagger = load_model(trained_model_dir)
    by_id = {r.id: r for r in read_jsonl(POOL)}
    rows = _rows(out)
    assert len(rows) == 3
    for r in rows:
        scores = dict(zip(tagger.topic_ids, map(float, tagger.scores([r["text"]])[0])))
        nearest = Item(by_id[r["id"]], scores).nearest_topic(tagger.thresholds)
        assert r["selection"] == f"uncertainty:{nearest} ({tagger.tag_name})"
    labels, _ = read_labels(out)
    assert all(ex.model_chosen for ex in labels.examples)


def test_session_in_random_order_records_random(tmp_path, empty_dir, trained_model_dir):
    for model, name in ((str(trained_model_dir), "with-model.jsonl"), ("none", "no-model.jsonl")):
        out = tmp_path / name
        _session(out, "y\ny\nq\n", empty_dir, model=model, strategy="random")
        assert [r["selection"] for r in _rows(out)] == ["random", "random"]
        assert not any(ex.model_chosen for ex in read_labels(out)[0].examples)


# --------------------------------------------------------------------------- Label Studio: a round trip keeps every field

def _rich_labels(labels_dir):
    """The fixture labels with the other fields real label records carry, in every combination."""
    from conftest import fixture_label_rows

    rows = fixture_label_rows()[:8]
    rows[0].update(selection="uncertainty:dx (gikai-topics:abc)", annotator="reader-31", batch="r7-01",
                   note="予算の話が中心")
    rows[1].update(selection="random", annotator="reader-32", batch="r7-01")
    rows[2].update(annotator="me", source="label-session", model=None, suggested={"dx": 0.61},
                   selection="uncertainty:finance (gikai-topics:abc)")
    rows[3].update(annotator="reader-40", batch="r9-02", previous_topics=["urban"], reread_by="reader-41",
                   adjudicated="2024-06-01", relabeled="guidelines §4")
    for r in rows[4:6]:
        r.update(annotator="reader-33", batch="r7-02")  # rows 6 and 7: the bare fixture records
    return write_jsonl(labels_dir / "rich.jsonl", rows), rows


def test_label_studio_round_trip_keeps_every_field(tmp_path, empty_dir):
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    _, rows = _rich_labels(src_dir)
    tasks = tmp_path / "tasks.json"
    assert main(["labels", "export", "--labels", str(src_dir), "--out", str(tasks)]) == 0
    data = json.loads(tasks.read_text(encoding="utf-8"))
    assert data[0]["data"]["meta"] == {"selection": "uncertainty:dx (gikai-topics:abc)", "annotator": "reader-31",
                                       "batch": "r7-01", "note": "予算の話が中心"}
    assert "meta" not in data[7]["data"]  # nothing beyond the core fields: the task is as before
    out = tmp_path / "back" / "ls.jsonl"
    assert main(["labels", "import", str(tasks), "--out", str(out), "--labels", str(empty_dir)]) == 0
    back = _rows(out)
    assert back == [{**r, "source": r.get("source", "label-studio:tasks.json")} for r in rows]
    original, imported = read_labels(src_dir)[0], read_labels(out)[0]
    fields = lambda ex: (ex.id, ex.text, ex.topics, ex.municipality, ex.date, ex.speaker, ex.selection,  # noqa: E731
                         ex.model_chosen)
    assert [fields(ex) for ex in imported.examples] == [fields(ex) for ex in original.examples]
    assert [ex.model_chosen for ex in imported.examples][:3] == [True, False, True]


@pytest.mark.parametrize("meta, says", [
    (["reader-31"], "data.meta must be an object"),
    ({"topics": ["dx"]}, "data.meta must not hold ['topics']"),
    ({"selection": 3}, "data.meta.selection must be a string"),
    ({"previous_topics": ["dx\ud800"]}, "data.meta holds a lone surrogate"),
])
def test_label_studio_import_checks_data_meta(tmp_path, empty_dir, capsys, meta, says):
    task = _task("z1", [_choices(["disaster"])])
    task["data"]["meta"] = meta
    src = tmp_path / "export.json"
    src.write_text(json.dumps([task]), encoding="utf-8")  # ASCII escapes: a lone surrogate survives the file
    out = tmp_path / "ls.jsonl"
    capsys.readouterr()
    assert main(["labels", "import", str(src), "--out", str(out), "--labels", str(empty_dir)]) == 1
    err = capsys.readouterr().err
    assert says in err and "task 1" in err and "Traceback" not in err and not out.exists()


def test_merge_reads_a_batch_whose_text_holds_unicode_line_separators(tmp_path):
    """Batch files keep non-ASCII text as it is; U+2028, U+0085 or U+001C inside a text is not a line break."""
    rec = list(read_jsonl(POOL))[0].to_dict()
    rec["text"] = rec["text"][:40] + "\u2028" + rec["text"][40:80] + "\x85\x1c" + rec["text"][80:]
    pool = write_jsonl(tmp_path / "p.jsonl", [rec])
    assert _batch(pool, tmp_path / "b") == 0
    batch = tmp_path / "b" / "b-01.jsonl"
    answers = _answer_all(tmp_path / "a.tsv", _keys(batch))
    out = tmp_path / "labels" / "m.jsonl"
    assert main(["labels", "merge", str(batch), str(answers), "--out", str(out), "--annotator", "t"]) == 0
    assert read_labels(out)[0].examples[0].text == rec["text"]


def test_pool_and_export_refuse_an_output_that_is_one_of_their_inputs(tmp_path, labels_dir, capsys):
    """labels pool --out over its --pool file, labels export --out over the label file: the input was replaced
    (found by reading the docs against the code); now refused before any work, like every other --out."""
    pool_in = tmp_path / "pool_in.jsonl"
    pool_in.write_bytes((FIXTURES / "corpus_sample.jsonl").read_bytes())
    before = pool_in.read_bytes()
    assert main(["labels", "pool", "--pool", str(pool_in), "--out", str(pool_in), "--strategy", "random",
                 "--model", "none", "--labels", str(labels_dir), "--size", "3", "--min-chars", "0"]) == 1
    assert "pool_in.jsonl" in capsys.readouterr().err and pool_in.read_bytes() == before
    label_file = labels_dir / "labels.jsonl"
    before = label_file.read_bytes()
    assert main(["labels", "export", "--labels", str(labels_dir), "--out", str(label_file)]) == 1
    assert main(["labels", "export", "--labels", str(labels_dir), "--out", str(labels_dir / "x.json")]) == 1
    assert label_file.read_bytes() == before and not (labels_dir / "x.json").exists()
    both = tmp_path / "t.json"
    assert main(["labels", "export", "--labels", str(labels_dir), "--out", str(both), "--config-out", str(both)]) == 1
    assert "is also --out" in capsys.readouterr().err and not both.exists()
