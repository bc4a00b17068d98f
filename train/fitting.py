"""Fitting a :class:`train.model.TopicClassifier`: the stacked one-vs-rest linear classifiers, the per-topic
thresholds tuned on out-of-fold probabilities, the threshold folds and the final fit run side by side in
processes, and the word vectors a config asks for.

Nothing here is pickled by reference into a saved model (a fitted model holds
:class:`train.model.TopicClassifier`, :class:`train.model.TokenNgrams` and
:func:`train.text.char_normalize`), so this module may be reorganised freely; the model's own import path
may not.
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Callable

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from threadpoolctl import threadpool_limits

from .config import ThresholdConfig, TrainConfig
from .errors import ConfigError, GikaiError

if TYPE_CHECKING:
    from .model import TopicClassifier


def fit_classifier(config: TrainConfig, X, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit one binary linear classifier per topic; return (W: features x topics, b: topics)."""
    cc = config.classifier
    class_weight = None if cc.class_weight in (None, "none") else cc.class_weight
    if cc.kind == "logreg":
        base = LogisticRegression(C=cc.C, solver="liblinear", class_weight=class_weight, max_iter=cc.max_iter,
                                  random_state=config.random_state)
    else:
        base = SGDClassifier(loss="log_loss", alpha=cc.sgd_alpha, class_weight=class_weight, max_iter=cc.max_iter,
                             tol=1e-4, random_state=config.random_state)
    n_features, n_topics = X.shape[1], Y.shape[1]
    W = np.zeros((n_features, n_topics), dtype=np.float64)
    b = np.zeros(n_topics, dtype=np.float64)
    # liblinear calls BLAS; with OpenBLAS's default threads the fits ran ~100x slower whenever another
    # process kept the cores busy (measured in bench/). One BLAS thread per fit: parallelism is ours.
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # "Label not N is present in all training examples"
        ovr = OneVsRestClassifier(base).fit(X, Y)  # n_jobs runs whole fits side by side (TopicClassifier.fit)
    for j, est in enumerate(ovr.estimators_):
        if hasattr(est, "coef_"):
            W[:, j] = np.asarray(est.coef_).ravel()
            b[j] = float(np.asarray(est.intercept_).ravel()[0])
        else:  # a topic with only one class in the training data: constant prediction
            p = float(np.clip(Y[:, j].mean(), 1e-6, 1 - 1e-6))
            b[j] = np.log(p / (1 - p))
    return W, b


def workers_for(n_jobs) -> int:
    """Processes for ``n_jobs`` (-1: one per CPU this process may use)."""
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, (int, np.integer)) or (n_jobs < 1 and n_jobs != -1):
        raise ConfigError(f"n_jobs (--jobs): expected a positive integer or -1 (one process per core), found {n_jobs!r}")
    from joblib import cpu_count  # respects CPU affinity and container quotas, as evaluate's -1 does

    return max(1, cpu_count()) if n_jobs == -1 else int(n_jobs)


def fit_run(model: TopicClassifier, tokens, texts, Y, vectors, tr, te):
    """One fit of the threshold CV (train on ``tr``, return probabilities of ``te``), or with ``tr`` None the
    final fit on everything (returns the fitted parts)."""
    if tr is None:
        return model.fit_once(tokens, texts, Y, vectors)
    word, char, proj, W, b = model.fit_once([tokens[i] for i in tr], [texts[i] for i in tr], Y[tr], vectors)
    return model.probs_with(word, char, proj, W, b, [tokens[i] for i in te], [texts[i] for i in te])


def _fit_run_caught(index: int, *args):
    """:func:`fit_run` in a worker process, tagged with its index and its seconds.  Our own errors come back as
    values, so that the parent raises the one the sequential order would have met first, whichever process
    finished first."""
    t0 = time.perf_counter()
    try:
        run = fit_run(*args)
    except GikaiError as exc:
        run = exc
    except MemoryError:
        run = ConfigError("n_jobs (--jobs): a fit process ran out of memory (each process holds the features of "
                          "the labels); use --jobs 1")
    return index, run, time.perf_counter() - t0


def parallel_fits(model: TopicClassifier, tokens, texts, Y, vectors, folds, workers: int, *, final: bool = True,
                  done: Callable[[int, float], None] | None = None):
    """The final fit and every fold in ``workers`` processes: (final parts, [fold probabilities]).  ``final=False``:
    the folds only (the final parts are None), as ``labels suspects`` scores every label out of fold.  ``done(k,
    seconds)`` is called as each run ends, in the order they end (``k``: the fold, from 1; 0: the final fit).

    An error is raised as soon as it is the first the sequential fit would have met (the folds in order, then
    the final fit), without waiting for the other runs, which are then cancelled."""
    from joblib import Parallel, delayed
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    tasks = [delayed(_fit_run_caught)(0, model, tokens, texts, Y, vectors, None, None)] if final else []
    tasks += [delayed(_fit_run_caught)(k, model, tokens, texts, Y, vectors, tr, te)  # the final, longest run first
              for k, (tr, te) in enumerate(folds, start=1)]
    sequential = list(range(1, len(folds) + 1)) + ([0] if final else [])
    got: dict[int, object] = {}
    try:
        for index, run, seconds in Parallel(n_jobs=workers, return_as="generator_unordered")(tasks):
            got[index] = run
            if done is not None and not isinstance(run, GikaiError):
                done(index, seconds)
            for k in sequential:
                if k not in got:
                    break
                if isinstance(got[k], GikaiError):
                    raise got[k]
    except TerminatedWorkerError:
        raise ConfigError(f"n_jobs (--jobs): a fit process was killed, most likely for want of memory (each of the "
                          f"{workers} processes holds the features of {len(tokens):,} texts); use --jobs 1") from None
    return got.get(0), [got[k] for k in range(1, len(folds) + 1)]


def best_thresholds(Y: np.ndarray, P: np.ndarray, lo: float, hi: float, default: float) -> np.ndarray:
    """Per column, the threshold in [lo, hi] that maximises F1 of ``P >= t`` against ``Y``: the middle of the
    best cut's gap between two scores, as far as it lies in [lo, hi] (``default`` for a column without
    positives, without a possible cut, or where no possible cut catches a positive: every cut has F1 0, so none
    is better than another, and the first of them, the gap under the highest negative, was taken by accident)."""
    out = np.full(Y.shape[1], default)
    for j in range(Y.shape[1]):
        y, p = Y[:, j].astype(bool), P[:, j]
        if y.sum() == 0:
            continue
        order = np.argsort(-p, kind="stable")
        ps, ys = p[order], y[order]
        tp = np.cumsum(ys)
        k = np.arange(1, len(ys) + 1)
        f1 = 2 * tp / (k + y.sum())
        # Cutting after the i-th highest score predicts exactly the top i + 1 for any threshold in
        # (nxt, ps[i]]: a cut is possible only between distinct scores, and only when that interval meets
        # [lo, hi].  A cut whose upper score lies above hi is still one (e.g. all positives above 0.95, the
        # first negative at 0.90): its threshold is then taken inside the range.
        nxt = np.r_[ps[1:], -np.inf]
        valid = (nxt < ps) & (ps >= lo) & (nxt < hi)
        if not valid.any() or f1[valid].max() <= 0:
            continue
        score = np.where(valid, f1, -1.0)
        best = score == score.max()
        # among equally good cuts the first (highest) one whose scores lie inside the range, as before cuts
        # above it were accepted: thresholds change only where such a cut is strictly better
        inside = best & (ps <= hi)
        i = int(np.argmax(inside if inside.any() else best))
        low, high = max(nxt[i], lo), min(ps[i], hi)
        out[j] = float(np.clip((low + high) / 2, lo, hi))
    return out


def smoothed_thresholds(Y: np.ndarray, P: np.ndarray, lo: float, hi: float, default: float, window: float,
                        step: float = 0.01) -> np.ndarray:
    """Per column, the threshold on a grid over [lo, hi] (``step`` apart) whose F1 of ``P >= t`` against ``Y``,
    averaged over the grid's thresholds within ``window`` either side (its end values repeated past its ends),
    is highest; where several tie, the middle of the highest run of them.  ``default`` for a column without
    positives or where no threshold in the range catches one (as :func:`best_thresholds`).

    The single best cut follows a handful of scores either side of it, so a label or two moves it; the best
    neighbourhood does not: under resampling of the labels its thresholds moved about a quarter less.  On the
    five councils held out in turn, on the same fits, it gave macro-F1 +0.007 (mean) and +0.006 (pooled) over the
    best cut, every council at least as well, at the same F1 within the councils seen; across new fits that gain
    is within the noise (``python -m bench.diagnostics.threshold_rules``; docs/MODEL.md, twenty-first session)."""
    grid = np.linspace(lo, hi, int(round((hi - lo) / step)) + 1)
    k = int(round(window / step))
    out = np.full(Y.shape[1], default)
    for j in range(Y.shape[1]):
        y = Y[:, j].astype(bool)
        positives = int(y.sum())
        if positives == 0:
            continue
        p = P[:, j]
        predicted = len(p) - np.searchsorted(np.sort(p), grid, side="left")  # scores >= each threshold
        tp = positives - np.searchsorted(np.sort(p[y]), grid, side="left")
        f1 = 2 * tp / (predicted + positives)
        if f1.max() <= 0:
            continue
        smooth = np.convolve(np.pad(f1, k, mode="edge"), np.full(2 * k + 1, 1 / (2 * k + 1)), mode="valid")
        best = np.flatnonzero(smooth >= smooth.max() - 1e-12)
        breaks = np.flatnonzero(np.diff(best) > 1)
        run = best[breaks[-1] + 1:] if len(breaks) else best
        out[j] = float(grid[run[len(run) // 2]])
    return out


def tuned_thresholds(Y: np.ndarray, P: np.ndarray, tc: ThresholdConfig) -> np.ndarray:
    """The per-topic thresholds the config's rule (``thresholds.rule``) chooses on out-of-fold scores ``P`` of
    labels ``Y``: every fit, ``labels suspects`` and the peers' benchmark tune through here, so that they all follow
    the config."""
    if tc.rule == "best_cut":
        return best_thresholds(Y, P, tc.min_threshold, tc.max_threshold, tc.default)
    return smoothed_thresholds(Y, P, tc.min_threshold, tc.max_threshold, tc.default, tc.smoothing)


def configured_vectors(config: TrainConfig, given=None):
    """The word vectors a fit with ``config`` uses, or None when the config turns them off: the own vectors
    (``given`` replaces the file named by ``features.vectors``) concatenated per word with the general-domain
    ones (``features.general_vectors``), each checked against the analyzer.  Raises :class:`ConfigError` for a
    missing, wrong-kind or wrong-analyzer file, so callers can run it before any slow step (files are cached)."""
    fc = config.features
    if not fc.uses_vectors:
        return None
    from .vectors import concat_vectors, load_vectors

    own = None if fc.vectors == "none" else given if given is not None else load_vectors(fc.vectors)
    general = None if fc.general_vectors == "none" else load_vectors(fc.general_vectors, general=True)
    wrong = [(option, table) for option, table in (("features.vectors", own), ("features.general_vectors", general))
             if table is not None and table.analyzer_key != config.analyzer.key]
    if wrong:
        build = ("`gikai-topics vectors build --config CONFIG.toml --out own.npz [CORPUS...]` (CONFIG.toml: this "
                 "config file)")
        general_build = "`gikai-topics vectors general WHEEL --vocabulary own.npz --out general.npz`"
        if len(wrong) == 2:  # the default config names both bundled files: both need rebuilding
            fix = (f"rebuild both with this analyzer: {build}, then {general_build}, and set features.vectors = "
                   "\"own.npz\" and features.general_vectors = \"general.npz\"; or set both to \"none\"")
        elif wrong[0][0] == "features.vectors":
            fix = (f"rebuild them with this analyzer: {build}, and set features.vectors = \"own.npz\"; or set "
                   "features.vectors = \"none\"")
        else:
            fix = (f"set features.general_vectors = \"none\", or rebuild them from own vectors of this analyzer: "
                   f"{build}, then {general_build}, and set features.general_vectors = \"general.npz\"")
        keys = {option: f"key {table.analyzer_key or '?'} ({table.meta.get('analyzer')})" for option, table in wrong}
        found = (f"vectors built with {next(iter(keys.values()))}" if len(set(keys.values())) == 1 else
                 "; ".join(f"{option} built with {key}" for option, key in keys.items()))
        raise ConfigError(f"{' and '.join(option for option, _ in wrong)}: expected vectors built with this "
                          f"config's analyzer settings (key {config.analyzer.key}), found {found}; {fix}")
    return concat_vectors(own, general)
