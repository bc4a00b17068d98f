"""Plain function behind ``gikai-topics evaluate``."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Sequence

from ..config import load_config
from ..errors import InputError
from ..labeling.store import read_labels
from ..paths import default_path
from .cv import EvalOptions, cross_validate

#: workers of ``--dask local`` without --jobs
LOCAL_WORKERS = 2
#: parts of a CV evaluation that ``--skip`` can leave out (``--quick`` leaves out all of them)
SKIPPABLE = ("learning-curve", "baselines", "held-out")


@contextlib.contextmanager
def dask_backend(address: str | None, n_workers: int = LOCAL_WORKERS):
    """joblib's Dask backend on a cluster (``address``) or a LocalCluster (``'local'``)."""
    if not address:
        yield None
        return
    from joblib import parallel_backend

    from ..cluster import connect

    client, cluster = connect(address, n_workers)
    try:
        with parallel_backend("dask"):
            yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def parse_counts(text: str | None, option: str) -> tuple[int, ...]:
    """``"500,2000"`` → ``(500, 2000)``; None → ``()``."""
    if text is None:
        return ()
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        counts = ()
    if not counts or any(k < 1 for k in counts):
        raise InputError(f"{option}: expected comma-separated label counts >= 1 such as 500,2000, found {text!r}")
    return counts


def run_evaluation(labels_path: Path | None, config_path: Path | None, *, folds: int = 5, repeats: int = 1,
                   jobs: int | None = None, dask: str | None = None, model: str | None = None, test: Path | None = None,
                   quick: bool = False, skip: Sequence[str] = (),
                   loao_vectors: str = "strict", corpus: list[Path] | None = None, score_model_chosen: bool = False,
                   adapt: Sequence[int] = (), progress: Callable[[str], None] | None = None) -> dict:
    """``labels_path`` None: the bundled labels/ (for cross-validation).  ``jobs`` None: one fit at a time, or with
    ``dask='local'`` a local cluster of :data:`LOCAL_WORKERS` workers; with a cluster's address its workers run the
    fits, so ``jobs`` is refused there."""
    unknown = sorted(set(skip) - set(SKIPPABLE))
    if unknown:
        raise InputError(f"--skip: expected one of {', '.join(SKIPPABLE)}, found {', '.join(unknown)}")
    if model is not None:
        # options of the cross-validation a saved model's evaluation has no use for: refused, not ignored
        given = [("--labels", labels_path is not None), ("--config", config_path is not None),
                 ("--folds", folds != 5), ("--repeats", repeats != 1), ("--jobs", jobs is not None),
                 ("--dask", bool(dask)), ("--quick", quick), ("--skip", bool(skip)),
                 ("--loao-vectors", loao_vectors != "strict"), ("--corpus", bool(corpus)), ("--adapt", bool(adapt))]
        ignored = [name for name, on in given if on]
        if ignored:
            raise InputError(f"--model: scores a saved model on --test with its own config and thresholds; expected "
                             f"no cross-validation options, found {', '.join(ignored)}: drop them (or drop --model "
                             "and --test to cross-validate)")
        from ..inference import load_model
        from .testset import evaluate_saved

        return evaluate_saved(load_model(model), Path(test), score_model_chosen=score_model_chosen)
    if dask and dask != "local" and jobs is not None:
        raise InputError(f"--jobs {jobs}: expected no --jobs with --dask {dask}, whose workers run the fits (start "
                         "more with `dask worker ADDRESS --nworkers N`); drop --jobs, or use --dask local --jobs N")
    if dask == "local" and jobs is not None and jobs < 1 and jobs != -1:
        raise InputError(f"--jobs: expected an integer >= 1 (the local cluster's workers), or -1 (one per core), "
                         f"found {jobs}")
    config = load_config(config_path)
    labels_path = labels_path if labels_path is not None else default_path("labels")
    labels, _ = read_labels(labels_path)
    off = set(SKIPPABLE) if quick else set(skip)
    options = EvalOptions(folds=folds, repeats=repeats, n_jobs=-1 if dask else (1 if jobs is None else jobs),
                          loao="held-out" not in off, baselines="baselines" not in off,
                          learning_curve="learning-curve" not in off, loao_vectors=loao_vectors,
                          corpus=tuple(map(str, corpus)) if corpus else None, score_model_chosen=score_model_chosen,
                          adapt=tuple(adapt))
    workers = LOCAL_WORKERS if jobs is None else (os.cpu_count() or 1) if jobs == -1 else jobs
    with dask_backend(dask, workers):  # --jobs sizes a local cluster, as in tag-corpus
        return cross_validate(labels, config, options, progress=progress)
