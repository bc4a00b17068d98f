"""The eighth review's findings on timeline, corpus stats / sample and the Dask connection."""

from __future__ import annotations

import pytest

from conftest import write_jsonl
from train.cli import main
from train.errors import InputError
from train.timeline import compute_timeline

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
