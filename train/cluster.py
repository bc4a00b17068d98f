"""Connecting to Dask, for ``--dask ADDRESS`` (a running scheduler) or ``--dask local`` (a LocalCluster)."""

from __future__ import annotations

import os
from typing import Mapping

from .envvars import env_int
from .errors import InputError

#: how long :func:`connect` waits for a scheduler's first worker, in seconds (a scheduler without workers would
#: otherwise take the work and never run it); the environment variable overrides the default
WORKER_WAIT_VAR = "GIKAI_TOPICS_DASK_WAIT"
DEFAULT_WORKER_WAIT = 60
#: what to do when ``--dask local`` cannot start or get its workers going
LOCAL_HINT = "try again on a less loaded machine, or run without --dask"


def worker_wait(env: Mapping[str, str] | None = None) -> int:
    """Seconds to wait for a first worker: ``GIKAI_TOPICS_DASK_WAIT`` (a whole number >= 1) or 60."""
    return env_int(os.environ if env is None else env, WORKER_WAIT_VAR, DEFAULT_WORKER_WAIT, 1, unit="seconds")


def connect(address: str, n_workers: int):
    """``(client, cluster)``; ``cluster`` is the LocalCluster started for ``'local'``, else None (close both).

    Waits up to :func:`worker_wait` seconds for the cluster's first worker; any failure to start, reach or use
    the cluster is an :class:`InputError` naming the address and a fix, with nothing left running."""
    wait = worker_wait()  # a bad value is refused before anything starts
    from dask.distributed import Client, LocalCluster

    cluster = None
    try:
        if address == "local":
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster if cluster is not None else address)
    # Any exception here is a failed connection, not a bug of ours: OSError / TimeoutError (no scheduler there),
    # ValueError (not an address), TypeError (a tls:// or ucx:// address without its security settings or its
    # package), AssertionError (distributed's event loop did not start within its own 10 s on a loaded machine)...
    except Exception as exc:
        if cluster is not None:
            cluster.close()
        what = ("cannot start a local Dask cluster" if address == "local" else "cannot reach the Dask scheduler")
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise InputError(f"--dask {address}: {what} ({detail}); "
                         + (LOCAL_HINT if address == "local" else
                            "give ADDRESS as tcp://HOST:PORT of a running `dask scheduler` and try again (on a "
                            "loaded machine the connection can time out), or use --dask local or no --dask")) from None
    try:  # from here on a failure closes what was started before it is raised
        _wait_for_worker(client, address, wait)
        _check_workers(client, address)
    except BaseException:
        client.close()
        if cluster is not None:
            cluster.close()
        raise
    return client, cluster


def _wait_for_worker(client, address: str, wait: int) -> None:
    try:
        client.wait_for_workers(1, timeout=wait)
    except Exception as exc:  # WorkerStartTimeoutError, or the scheduler went away meanwhile
        start = (LOCAL_HINT if address == "local" else
                 f"start some with `dask worker {address}` on hosts where gikai-topics is installed")
        raise InputError(f"--dask {address}: the Dask scheduler has no workers after {wait} s "
                         f"({type(exc).__name__}); {start}, or wait longer with {WORKER_WAIT_VAR}=SECONDS") from None


def _check_workers(client, address: str) -> None:
    """Refuse a cluster whose workers cannot import this package: a task sent to such a worker fails to unpickle
    there, which closes the worker, and the run then waits for a worker that never comes."""
    import pkgutil

    try:  # pkgutil.resolve_name is the standard library's, so it reaches every worker; train.tagging may not
        found = client.run(pkgutil.resolve_name, "train.tagging:FORMAT", on_error="return")
    except Exception as exc:  # the scheduler or the workers went away meanwhile
        raise InputError(f"--dask {address}: lost the Dask cluster while checking its workers "
                         f"({type(exc).__name__}: {exc}); check the scheduler and its workers, and try again") from None
    bad = sorted((w, r) for w, r in found.items() if isinstance(r, BaseException))
    if bad:
        worker, exc = bad[0]
        raise InputError(f"--dask {address}: {len(bad)} of {len(found)} Dask worker(s) cannot import gikai-topics "
                         f"(e.g. {worker}: {type(exc).__name__}: {exc}); install the project where every worker "
                         "runs (`pip install /path/to/gikai-topics`) and restart the workers")
