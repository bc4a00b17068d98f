"""Connecting to Dask, for ``--dask ADDRESS`` (a running scheduler) or ``--dask local`` (a LocalCluster)."""

from __future__ import annotations

from .errors import InputError


def connect(address: str, n_workers: int):
    """``(client, cluster)``; ``cluster`` is the LocalCluster started for ``'local'``, else None (close both).

    Any failure to start or reach the cluster is an :class:`InputError` naming the address and a fix."""
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
                         + ("try again on a less loaded machine, or run without --dask" if address == "local" else
                            "give ADDRESS as tcp://HOST:PORT of a running `dask scheduler` and try again (on a "
                            "loaded machine the connection can time out), or use --dask local or no --dask")) from None
    return client, cluster
