"""The eighth review's findings on ``--dask``: a scheduler without workers, a failed start-up of distributed's
client, workers without the package."""

from __future__ import annotations

import pytest

from train import tagging
from train.cluster import connect
from train.errors import InputError


def _nothing_written(tmp_path, name):
    assert not (tmp_path / name).exists() and not (tmp_path / f"{name}.parts").exists()


def test_a_client_that_fails_inside_distributed_is_a_one_line_error(monkeypatch, corpus, tmp_path, trained_model_dir):
    # was: on a loaded machine distributed's IO loop did not start within its 10 s and its `assert loop is not None`
    # (distributed/utils.py, LoopRunner._start_unlocked) reached the user as an AssertionError traceback
    import distributed.utils

    def late_loop(self):
        raise AssertionError

    monkeypatch.setattr(distributed.utils.LoopRunner, "start", late_loop)
    with pytest.raises(InputError, match=r"--dask tcp://127.0.0.1:1: cannot reach the Dask scheduler "
                                         r"\(AssertionError\); give ADDRESS as tcp://HOST:PORT .* try again"):
        connect("tcp://127.0.0.1:1", 1)
    with pytest.raises(InputError, match=r"--dask local: cannot start a local Dask cluster \(AssertionError\)"):
        tagging.tag_corpus([corpus], tmp_path / "t.jsonl", model=str(trained_model_dir), dask="local")
    _nothing_written(tmp_path, "t.jsonl")
