"""The fits of a cross-validation: what each one trains and tests on, and the fit itself.

* :func:`cv_splits`: the (repeat, fold, train, test) of every CV fold, near-duplicate groups never split and
  model-chosen test items moved to training;
* :func:`group_subsample`: a learning-curve fraction of a training fold, by near-duplicate group;
* :func:`fit_predict`: one fit on a training side (thresholds tuned inside) scoring its test side, with the worst
  errors per topic when asked; it runs in a joblib worker;
* :func:`prior_scores`: the topic-prior baseline's draws, which need no fit.

:func:`train.evaluation.cv.cross_validate` runs these and turns their results into the report.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..folds import stratified_group_folds
from ..model import TopicClassifier

if TYPE_CHECKING:
    from .cv import EvalOptions

ERRORS_PER_TOPIC = 5
SNIPPET = 160


def _subset(seq, idx):
    return [seq[i] for i in idx]


def fit_predict(config, topic_ids, tokens, texts, groups, Y, train_idx, test_idx, *, explain: bool, vectors=None):
    """Fit on train_idx (thresholds tuned inside), score test_idx.  Runs in a worker."""
    t0 = time.perf_counter()
    model = TopicClassifier(config, topic_ids)
    model.fit(_subset(tokens, train_idx), Y[train_idx], texts=_subset(texts, train_idx),
              groups=_subset(groups, train_idx), vectors=vectors, n_jobs=1)  # evaluate runs fits side by side
    fit_seconds = time.perf_counter() - t0
    X = model.transform(_subset(tokens, test_idx), _subset(texts, test_idx))
    scores = model.scores(X)
    pred = scores >= model.thresholds
    errors = _worst_errors(model, X, Y[test_idx], scores, pred, test_idx, texts) if explain else {}
    return {"test_idx": np.asarray(test_idx), "scores": scores, "pred": pred, "thresholds": model.thresholds.copy(),
            "fit_seconds": fit_seconds, "errors": errors}


def _worst_errors(model, X, Y, scores, pred, test_idx, texts) -> dict:
    out = {}
    for j, t in enumerate(model.topic_ids):
        fp = np.flatnonzero(pred[:, j] & (Y[:, j] == 0))
        fn = np.flatnonzero(~pred[:, j] & (Y[:, j] == 1))
        fp = fp[np.argsort(-scores[fp, j])][:ERRORS_PER_TOPIC]
        fn = fn[np.argsort(scores[fn, j])][:ERRORS_PER_TOPIC]
        rows = []
        for kind, idx in (("false_positive", fp), ("false_negative", fn)):
            for r in idx:
                terms = model.explain_rows(X[r], [j], 5)[0][t]
                text = texts[test_idx[r]]
                rows.append({"kind": kind, "index": int(test_idx[r]), "score": round(float(scores[r, j]), 4),
                             "threshold": round(float(model.thresholds[j]), 4),
                             "snippet": text[:SNIPPET] + ("…" if len(text) > SNIPPET else ""), "terms": terms})
        out[t] = rows
    return out


def prior_scores(Y_train: np.ndarray, n_test: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The topic-prior baseline on ``n_test`` items: each topic's training prevalence as its score, and random
    draws at that rate as its decisions."""
    prior = Y_train.mean(axis=0)
    scores = np.tile(prior, (n_test, 1))
    pred = rng.random((n_test, len(prior))) < prior
    return scores, pred


def group_subsample(train_idx: np.ndarray, groups, fraction: float, rng: np.random.Generator,
                    minimum: int = 2) -> np.ndarray:
    """About ``fraction`` of the near-duplicate groups of ``train_idx`` (at least ``minimum``: a fit needs one
    group per threshold fold)."""
    if fraction >= 1.0:
        return train_idx
    keys = sorted({groups[i] for i in train_idx})
    chosen = set(rng.permutation(keys)[: max(minimum, int(round(len(keys) * fraction)))])
    return np.asarray([i for i in train_idx if groups[i] in chosen])


def cv_splits(Y: np.ndarray, groups: list[str], unscored: np.ndarray, options: EvalOptions, n: int) -> list:
    """(repeat, fold, train, test) for every CV fold; model-chosen test items (``unscored``) move to training."""
    splits = []
    for rep in range(options.repeats):
        for k, (tr, te) in enumerate(stratified_group_folds(Y, groups, options.folds, seed=options.seed + rep)):
            splits.append((rep, k, tr, te))
    if unscored.any():  # model-chosen test items move to the training side and are never scored; one that shares
        # a near-duplicate group with a scored test item (a copy labeled twice) sits that fold out instead
        def _moved(te):
            kept = {groups[i] for i in te[~unscored[te]]}
            return np.asarray([i for i in te[unscored[te]] if groups[i] not in kept], dtype=te.dtype)

        splits = [(rep, k, np.union1d(tr, _moved(te)), te[~unscored[te]]) for rep, k, tr, te in splits]
        if any(len(te) == 0 for _, _, _, te in splits):
            raise InputError(
                f"--folds {options.folds}: expected every CV fold to keep labels to score, found a fold with none "
                f"once the {int(unscored.sum()):,} model-chosen labels (of {n:,}) moved to training; "
                "use fewer --folds, label more at random, or pass --score-model-chosen")
    for _, _, tr, te in splits:  # the guarantee the report states
        assert not ({groups[i] for i in tr} & {groups[i] for i in te}), "a near-duplicate group straddles a split"
    return splits
