"""The eighth review's findings on ``--dask``: a scheduler without workers, a failed start-up of distributed's
client, workers without the package."""

from __future__ import annotations

import subprocess
import sys

import pytest

from train import tagging
from train.cli import main
from train.cluster import WORKER_WAIT_VAR, connect, worker_wait
from train.errors import InputError


@pytest.fixture
def scheduler():
    """A Dask scheduler with no workers, in this process; its address."""
    from dask.distributed import LocalCluster

    cluster = LocalCluster(n_workers=0, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _nothing_written(tmp_path, name):
    assert not (tmp_path / name).exists() and not (tmp_path / f"{name}.parts").exists()


def test_a_scheduler_without_workers_is_a_one_line_error_after_a_bounded_wait(scheduler, corpus, tmp_path,
                                                                               trained_model_dir, monkeypatch, capsys):
    # was: tag-corpus waited forever (the pool counted the empty cluster as one worker and submitted to it);
    # evaluate raised joblib's TimeoutError as a traceback after 10 s
    monkeypatch.setenv(WORKER_WAIT_VAR, "1")
    with pytest.raises(InputError, match=f"--dask {scheduler}: the Dask scheduler has no workers after 1 s.*"
                                         f"dask worker {scheduler}.*{WORKER_WAIT_VAR}"):
        tagging.tag_corpus([corpus], tmp_path / "t.jsonl", model=str(trained_model_dir), dask=scheduler)
    _nothing_written(tmp_path, "t.jsonl")

    out = tmp_path / "t.parquet"
    code = main(["tag-corpus", str(corpus), "--out", str(out), "--model", str(trained_model_dir), "--dask", scheduler])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: --dask") and "has no workers" in err and "Traceback" not in err
    _nothing_written(tmp_path, "t.parquet")


def test_evaluate_on_a_scheduler_without_workers_is_a_clear_error(scheduler, labels_dir, tmp_path, monkeypatch):
    from train.evaluation.runner import run_evaluation

    monkeypatch.setenv(WORKER_WAIT_VAR, "1")
    with pytest.raises(InputError, match="has no workers"):
        run_evaluation(labels_dir, None, folds=2, quick=True, dask=scheduler)


def test_the_worker_wait_is_configurable_and_checked():
    assert worker_wait({}) == 60 and worker_wait({WORKER_WAIT_VAR: " 5 "}) == 5
    for bad in ("0", "-3", "1.5", "soon", "  "):  # blanks as every GIKAI_TOPICS_* number (train.envvars)
        with pytest.raises(InputError, match=rf"{WORKER_WAIT_VAR}: expected an integer( >= 1)? \(seconds\)"):
            worker_wait({WORKER_WAIT_VAR: bad})


def test_a_bad_worker_wait_is_refused_before_connecting(monkeypatch):
    import dask.distributed

    monkeypatch.setenv(WORKER_WAIT_VAR, "never")
    monkeypatch.setattr(dask.distributed, "Client", lambda *a, **k: pytest.fail("connected"))
    with pytest.raises(InputError, match=WORKER_WAIT_VAR):
        connect("tcp://127.0.0.1:1", 1)


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


def test_a_bug_after_connecting_is_not_turned_into_a_connection_error(monkeypatch):
    import train.cluster
    from dask.distributed import LocalCluster

    def bug(client, address):
        raise KeyError("a bug of ours")

    monkeypatch.setattr(train.cluster, "_check_workers", bug)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        with pytest.raises(KeyError, match="a bug of ours"):
            connect(cluster.scheduler_address, 1)


BLOCK_TRAIN = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "train" or name.startswith("train."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Block())
for name in [m for m in sys.modules if m == "train" or m.startswith("train.")]:
    del sys.modules[name]
"""


@pytest.fixture
def worker_without_the_package(scheduler, tmp_path):
    """A `dask worker` process on ``scheduler`` that cannot import gikai-topics; stopped afterwards."""
    preload = tmp_path / "block_train.py"
    preload.write_text(BLOCK_TRAIN, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", scheduler, "--no-nanny",
                             "--nthreads", "1", "--no-dashboard", "--preload", str(preload)],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield scheduler
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_workers_without_the_package_are_refused(worker_without_the_package, corpus, tmp_path, trained_model_dir):
    # was: the first chunk sent to such a worker failed to unpickle there, which closed the worker, and
    # tag-corpus then waited forever for a worker
    address = worker_without_the_package
    with pytest.raises(InputError, match=rf"--dask {address}: 1 of 1 Dask worker\(s\) cannot import gikai-topics "
                                         r"\(e\.g\. .*ModuleNotFoundError: No module named 'train'\); install"):
        tagging.tag_corpus([corpus], tmp_path / "t.jsonl", model=str(trained_model_dir), dask=address)
    _nothing_written(tmp_path, "t.jsonl")
