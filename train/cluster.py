"""Connecting to Dask, for ``--dask ADDRESS`` (a running scheduler) or ``--dask local`` (a LocalCluster)."""

from __future__ import annotations

from .errors import InputError


def connect(address: str, n_workers: int):
    """``(client, cluster)``; ``cluster`` is the LocalCluster started for ``'local'``, else None (close both)."""
    from dask.distributed import Client, LocalCluster

    cluster = (LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
               if address == "local" else None)
    try:
        client = Client(cluster if cluster is not None else address)
    # no scheduler there, or not an address; TypeError: a tls:// (or ucx://) address without its security
    # settings or its package
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        if cluster is not None:
            cluster.close()
        raise InputError(f"--dask {address}: cannot reach the Dask scheduler ({type(exc).__name__}: {exc}); "
                         "give ADDRESS as tcp://HOST:PORT, or use --dask local or no --dask") from None
    return client, cluster
