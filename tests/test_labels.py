import json

import pytest

from conftest import write_jsonl
from train.cli import main
from train.errors import LabelError
from train.labeling.agreement import agreement
from train.labeling.batches import write_batches
from train.labeling.store import label_stats, read_labels
from train.corpus import read_jsonl


def test_fixture_labels_validate(labels_dir, capsys):
    assert main(["labels", "validate", str(labels_dir)]) == 0
    assert "no problems" in capsys.readouterr().out


def test_validate_lists_every_problem_and_modifies_nothing(tmp_path, capsys):
    d = tmp_path / "labels"
    d.mkdir()
    rows = [
        {"id": "a", "text": "防災訓練について", "topics": ["disaster"]},
        {"id": "a", "text": "別の発言", "topics": []},  # duplicate id
        {"id": "b", "text": "子育て支援", "topics": ["kids"]},  # unknown topic
        {"id": "c", "text": "   ", "topics": []},  # empty text
        {"id": "d", "text": "防災訓練について。", "topics": ["urban"]},  # same text as a, conflicting labels
        {"id": "e", "text": "ok", "topics": "dx"},  # wrong type
    ]
    f = d / "x.jsonl"
    write_jsonl(f, rows)
    with open(f, "a", encoding="utf-8") as fh:
        fh.write("{broken json\n")
    before = f.read_bytes()
    assert main(["labels", "validate", str(d)]) == 1
    out = capsys.readouterr().out
    for frag in ("x.jsonl:2: duplicate id 'a'", "x.jsonl:3: unknown topic id(s) ['kids']", "x.jsonl:4: 'text'",
                 "x.jsonl:5: same text", "x.jsonl:6: 'topics' must be a list", "x.jsonl:7: malformed JSON"):
        assert frag in out, frag
    assert f.read_bytes() == before


def test_stats(labels_dir, capsys):
    labels, _ = read_labels(labels_dir)
    st = label_stats(labels)
    assert st.examples == 67 and st.positives["dx"] >= 5 and st.zero_topic == 10
    assert st.cooccurrence["dx"]["dx"] == st.positives["dx"]
    assert main(["labels", "stats", str(labels_dir)]) == 0
    out = capsys.readouterr().out
    assert "67 labeled utterances" in out and "decided again since their first reading" not in out
    assert st.decided_again == st.by_majority == st.by_reviewer == 0


def test_stats_count_the_labels_changed_since_their_first_reading(labels_dir, tmp_path, capsys):
    """A review changes two labels and keeps one (no note); a majority of three then changes one of the reviewed
    labels again: 2 changed since their first reading, 1 by each kind of decision and 1 by both."""
    rows = [json.loads(l) for l in (labels_dir / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    a, b, c = rows[0], rows[1], rows[2]
    answers = tmp_path / "answers.tsv"
    flip = lambda r: "-" if r["topics"] else "dx"  # noqa: E731
    answers.write_text(f"{a['id']}\t{flip(a)}\tre-read\n{b['id']}\t{flip(b)}\tre-read\n"
                       f"{c['id']}\t{','.join(c['topics']) or '-'}\tkept\n", encoding="utf-8")
    assert main(["labels", "revise", str(answers), "--reviewer", "reader-T", "--reason", "review",
                 "--labels", str(labels_dir)]) == 0
    passes = tmp_path / "agreement"
    passes.mkdir()
    for name in ("A", "B"):  # both second readers give the first label back its first topics
        write_jsonl(passes / f"{name}.jsonl", [dict(a, annotator=f"reader-{name}")])
    assert main(["labels", "adjudicate", str(labels_dir / "labels.jsonl"), str(passes / "A.jsonl"),
                 str(passes / "B.jsonl"), "--force"]) == 0
    st = label_stats(read_labels(labels_dir)[0])
    assert (st.decided_again, st.by_majority, st.by_reviewer) == (2, 1, 2)
    capsys.readouterr()
    assert main(["labels", "stats", str(labels_dir)]) == 0
    assert ("decided again since their first reading (an 'adjudicated' note): 2 (3.0%; by the majority of three "
            "readings 1, by a reviewer 2, by both 1)") in " ".join(capsys.readouterr().out.split())


def test_label_set_hash_ignores_order(tmp_path, labels_dir):
    a, _ = read_labels(labels_dir)
    rows = [json.loads(l) for l in (labels_dir / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    d = tmp_path / "rev"
    d.mkdir()
    write_jsonl(d / "r.jsonl", rows[::-1])
    b, _ = read_labels(d)
    assert a.sha256 == b.sha256
    rows[0]["topics"] = ["dx"] if rows[0]["topics"] != ["dx"] else []
    write_jsonl(d / "r.jsonl", rows)
    c, _ = read_labels(d)
    assert c.sha256 != a.sha256


def test_add_appends_and_refuses_conflicts(labels_dir, capsys):
    out = labels_dir / "new.jsonl"
    assert main(["labels", "add", "--out", str(out), "--id", "n1", "--text", "ごみの分別について", "--topics",
                 "environment"]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["topics"] == ["environment"]
    before = out.read_bytes()
    assert main(["labels", "add", "--out", str(out), "--id", "n1", "--text", "x", "--topics", ""]) == 1  # dup id
    assert main(["labels", "add", "--out", str(out), "--id", "n2", "--text", "y", "--topics", "nope"]) == 1
    assert main(["labels", "add", "--out", str(out), "--id", "n3", "--text", "ごみの分別について。",
                 "--topics", "urban"]) == 1  # same text, different labels
    assert out.read_bytes() == before
    assert "already labeled" in capsys.readouterr().err


def test_add_of_a_label_already_there_leaves_it_and_another_text_under_its_id_is_refused(labels_dir, capsys):
    """`labels add` of an utterance already labeled with the same topics (a script run twice) was refused with "to
    keep that label, give the same topics here", which it had; now it is left as it is, as `labels merge` and
    `labels import` leave it.  Another text under that id is refused, saying so."""
    out = labels_dir / "new.jsonl"
    args = ["labels", "add", "--out", str(out), "--id", "n1", "--text", "ごみの分別について", "--topics", "environment"]
    assert main(args) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert main(args) == 0
    assert out.read_bytes() == before
    assert f"n1 is already labeled with the same topics at {out}:1; left as it is" in capsys.readouterr().err
    assert main(["labels", "add", "--out", str(out), "--id", "n1", "--text", "公園の整備について",
                 "--topics", "environment"]) == 1
    assert f"n1: already labeled at {out}:1 with another text" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_batches_merge_roundtrip(fixtures, tmp_path, capsys):
    recs = list(read_jsonl(fixtures / "corpus_sample.jsonl"))[:6]
    files = write_batches(recs, tmp_path / "b", prefix="t", max_chars=1500)
    assert len(files) >= 2
    batch = files[0].with_suffix(".jsonl")
    keys = [json.loads(l)["key"] for l in batch.read_text(encoding="utf-8").splitlines()]
    answers = tmp_path / "a.tsv"
    answers.write_text("".join(f"{k}\t{'finance' if i == 0 else ''}\n" for i, k in enumerate(keys)), encoding="utf-8")
    out = tmp_path / "labels" / "merged.jsonl"
    assert main(["labels", "merge", str(batch), str(answers), "--out", str(out), "--annotator", "tester"]) == 0
    merged = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert [m["topics"] for m in merged][0] == ["finance"] and merged[0]["annotator"] == "tester"
    # an incomplete answers file writes nothing
    answers.write_text(f"{keys[0]}\tdx\n", encoding="utf-8")
    before = out.read_bytes()
    assert main(["labels", "merge", str(batch), str(answers), "--out", str(out), "--annotator", "t"]) == 1
    assert out.read_bytes() == before


def test_agreement_kappa(tmp_path, labels_dir):
    a, _ = read_labels(labels_dir)
    rows = [json.loads(l) for l in (labels_dir / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in rows[:5]:
        r["topics"] = [] if r["topics"] else ["urban"]
    d = tmp_path / "second"
    d.mkdir()
    write_jsonl(d / "s.jsonl", rows)
    b, _ = read_labels(d)
    res = agreement(a, b)
    assert res["items"] == 67 and len(res["disagreeing_ids"]) == 5
    assert 0 < res["topics"]["urban"]["kappa"] < 1
    assert res["topics"]["culture_sports"]["kappa"] == pytest.approx(1.0) or res["topics"]["culture_sports"]["disagreements"]
    with pytest.raises(LabelError):
        read_labels(tmp_path / "missing")


def test_default_taxonomy_is_the_working_directorys_else_the_checkouts(tmp_path, monkeypatch):
    from train.paths import project_root
    from train.taxonomy import load_taxonomy

    monkeypatch.chdir(tmp_path)
    assert load_taxonomy().path == str(project_root() / "labels" / "topics.yaml")
    (tmp_path / "labels").mkdir()  # a labels/ folder without a taxonomy still falls back to the checkout's
    assert load_taxonomy().path == str(project_root() / "labels" / "topics.yaml")
    own = (project_root() / "labels" / "topics.yaml").read_text(encoding="utf-8")
    (tmp_path / "labels" / "topics.yaml").write_text(own, encoding="utf-8")
    assert load_taxonomy().path == "labels/topics.yaml"


def test_add_keeps_a_whole_last_line_without_newline_and_drops_a_torn_one(labels_dir):
    out = labels_dir / "hand.jsonl"
    whole = json.dumps({"id": "h1", "text": "防災訓練の実施について", "topics": ["disaster"]}, ensure_ascii=False)
    out.write_text(whole, encoding="utf-8")  # hand-edited: no final newline
    assert main(["labels", "add", "--out", str(out), "--id", "h2", "--text", "保育園の待機児童", "--topics",
                 "childcare"]) == 0
    assert [json.loads(l)["id"] for l in out.read_text(encoding="utf-8").splitlines()] == ["h1", "h2"]
    with open(out, "ab") as fh:
        fh.write(b'{"id": "h3", "text": "torn')  # an interrupted write
    assert main(["labels", "add", "--out", str(out), "--id", "h4", "--text", "ごみの収集", "--topics",
                 "environment"]) == 0
    assert [json.loads(l)["id"] for l in out.read_text(encoding="utf-8").splitlines()] == ["h1", "h2", "h4"]


@pytest.mark.parametrize("record, says", [
    ({"id": "j1", "text": "防災", "topics": ["dx", "dx"]}, "topic listed twice"),
    ({"id": "j1", "text": "防災", "topics": [["dx"]]}, "'topics' must be a list of topic ids"),
    ({"id": "j1", "text": "防災", "topics": [], "municipality": 5}, "'municipality' must be a string"),
    ({"id": "j1", "text": "防災\ud800", "topics": []}, "lone surrogate"),
])
def test_add_runs_the_checks_of_validate_and_writes_nothing(labels_dir, capsys, record, says):
    out = labels_dir / "j.jsonl"
    raw = json.dumps(record, ensure_ascii=True)  # ASCII escapes carry the lone surrogate through argv
    assert main(["labels", "add", "--out", str(out), "--json", raw]) == 1
    assert says in capsys.readouterr().err and not out.exists()


def test_validate_reports_a_lone_surrogate(tmp_path, capsys):
    (tmp_path / "a.jsonl").write_text('{"id": "s1", "text": "\\ud800", "topics": []}\n', encoding="utf-8")
    assert main(["labels", "validate", str(tmp_path)]) == 1
    assert "a.jsonl:1: 'text' holds a lone surrogate" in capsys.readouterr().out


def test_merge_refuses_repeats_bad_files_and_non_jsonl_out(fixtures, tmp_path, capsys):
    recs = list(read_jsonl(fixtures / "corpus_sample.jsonl"))[:3]
    files = write_batches(recs + recs[:1], tmp_path / "b", prefix="t", max_chars=100_000)  # one id twice
    batch = files[0].with_suffix(".jsonl")
    keys = [json.loads(l)["key"] for l in batch.read_text(encoding="utf-8").splitlines()]
    answers = tmp_path / "a.tsv"
    answers.write_text("".join(f"{k}\t\n" for k in keys), encoding="utf-8")
    out = tmp_path / "labels" / "m.jsonl"
    assert main(["labels", "merge", str(batch), str(answers), "--out", str(out), "--annotator", "t"]) == 1
    assert "appears twice" in capsys.readouterr().err and not out.exists()
    for bad_out in (tmp_path / "labels" / "m.json", tmp_path / "labels"):
        assert main(["labels", "merge", str(batch), str(answers), "--out", str(bad_out), "--annotator", "t"]) == 1
        assert "expected a .jsonl label file" in capsys.readouterr().err
    bad_answers = tmp_path / "bad.tsv"
    bad_answers.write_bytes(b"\xff\xfe t-0001\t\n")
    broken_batch = tmp_path / "broken.jsonl"
    broken_batch.write_text('{"id": "x"}\n', encoding="utf-8")
    for b, a, says in ((batch, tmp_path / "missing.tsv", "no such answers file"), (batch, bad_answers, "invalid UTF-8"),
                       (broken_batch, answers, "expected a batch record with 'key'")):
        assert main(["labels", "merge", str(b), str(a), "--out", str(out), "--annotator", "t"]) == 1
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err
    assert not out.exists()


def test_batch_checks_everything_before_writing(fixtures, tmp_path, capsys):
    from train.errors import InputError

    recs = list(read_jsonl(fixtures / "corpus_sample.jsonl"))[:6]
    with pytest.raises(InputError, match="lone surrogate"):
        write_batches(recs, tmp_path / "b", prefix="t", max_chars=500, selection={recs[-1].id: "random\ud800"})
    assert not (tmp_path / "b").exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        write_batches(recs, blocker, prefix="t")


def test_agreement_kappa_is_undefined_not_perfect_where_neither_pass_varies(tmp_path, capsys):
    one = {"id": "k1", "text": "防災訓練について", "topics": ["disaster"]}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_jsonl(tmp_path / "a" / "x.jsonl", [one])
    write_jsonl(tmp_path / "b" / "x.jsonl", [{**one, "topics": ["urban"]}])
    a, _ = read_labels(tmp_path / "a")
    b, _ = read_labels(tmp_path / "b")
    res = agreement(a, b)
    assert res["exact_match"] == 0 and res["topics"]["privacy"]["kappa"] is None
    assert res["mean_kappa"] == pytest.approx(0.0) and "privacy" in res["topics_without_kappa"]
    assert main(["labels", "agreement", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "undefined for" in capsys.readouterr().out


def test_every_library_error_survives_pickling():
    """Parallel fits send our errors back from worker processes as values: each must pickle."""
    import pickle

    import train.errors as errors

    kinds = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.GikaiError)]
    assert len(kinds) >= 7
    for kind in kinds:
        back = pickle.loads(pickle.dumps(kind("expected x, found y")))
        assert type(back) is kind and str(back) == "expected x, found y"
