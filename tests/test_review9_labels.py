"""Ninth review of the labeling code: a label must never be lost, duplicated or silently changed, and a
refusal says what was expected, what was found and how to fix it.  Each test failed on the code before
its fix (see docs/RELIABILITY.md, "Ninth session: review of the labeling code")."""

import io
import json

import pytest

from conftest import FIXTURES, write_jsonl
from train.cli import main
from train.corpus import read_jsonl
from train.labeling.session import run_label_session
from train.labeling.store import read_labels

POOL = FIXTURES / "corpus_sample.jsonl"


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def _ids(path):
    return [r["id"] for r in _rows(path)]


@pytest.fixture
def empty_dir(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d


def _session(out, keys, labels_dir, **kw):
    screen = io.StringIO()
    res = run_label_session([POOL], out, model="none", labels_dir=labels_dir, annotator="tester",
                            stdin=keys if not isinstance(keys, str) else io.StringIO(keys), stdout=screen, **kw)
    return res, screen.getvalue()


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
