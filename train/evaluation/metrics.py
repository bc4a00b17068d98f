"""Multi-label metrics: per topic and overall, and their mean ± std over folds."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score

OVERALL = ("micro_f1", "macro_f1", "samples_f1", "subset_accuracy", "hamming_loss")
PER_TOPIC = ("precision", "recall", "f1", "support", "average_precision")


def compute(Y: np.ndarray, pred: np.ndarray, scores: np.ndarray | None, topic_ids: list[str]) -> dict:
    """Metrics of one evaluation.  ``macro_f1`` averages the topics with support > 0.

    A figure with nothing to measure is ``None``, not 0: recall and F1 of a topic with no positives here, and
    precision of a topic never predicted; so are macro-F1 where no topic has a positive, micro-F1 where nothing
    is true and nothing predicted, and every overall figure of no examples.  Fold means then leave such folds
    out, as ``macro_f1`` does.
    Counted directly (not through sklearn), so a one-topic taxonomy is not mistaken for a binary target."""
    Y = np.asarray(Y).astype(int).reshape(len(Y), len(topic_ids))
    pred = np.asarray(pred).astype(int).reshape(len(pred), len(topic_ids))
    tp = (Y & pred).sum(axis=0)
    support = Y.sum(axis=0)
    predicted = pred.sum(axis=0)
    per_topic = {}
    for j, t in enumerate(topic_ids):
        ap = None
        if scores is not None and support[j] > 0:
            ap = float(average_precision_score(Y[:, j], scores[:, j]))
        per_topic[t] = {"precision": float(tp[j] / predicted[j]) if predicted[j] else None,
                        "recall": float(tp[j] / support[j]) if support[j] else None,
                        "f1": float(2 * tp[j] / (support[j] + predicted[j])) if support[j] else None,
                        "support": int(support[j]), "predicted": int(predicted[j]), "average_precision": ap}
    present = [t for j, t in enumerate(topic_ids) if support[j] > 0]
    denom = int(support.sum() + predicted.sum())
    row_true, row_pred, row_tp = Y.sum(axis=1), pred.sum(axis=1), (Y & pred).sum(axis=1)
    row_denom = row_true + row_pred
    samples = np.where(row_denom > 0, 2 * row_tp / np.maximum(row_denom, 1), 1.0)  # nothing true, nothing said: 1
    overall = {
        "micro_f1": float(2 * tp.sum() / denom) if denom else None,
        "macro_f1": float(np.mean([per_topic[t]["f1"] for t in present])) if present else None,
        "samples_f1": float(samples.mean()) if len(Y) else None,
        "subset_accuracy": float((Y == pred).all(axis=1).mean()) if len(Y) else None,
        "hamming_loss": float((Y != pred).mean()) if Y.size else None,
        "topics_with_support": len(present),
        "n": int(len(Y)),
    }
    return {"overall": overall, "per_topic": per_topic}


def mean_std(values) -> dict:
    """``{"mean", "std"}`` of the figures there are (None: nothing to measure, left out); both None when there
    is none."""
    vals = [v for v in values if v is not None]
    if not vals:
        return {"mean": None, "std": None}
    return {"mean": float(np.mean(vals)), "std": float(np.std(vals))}


def aggregate(folds: list[dict], topic_ids: list[str], repeats: int = 1) -> dict:
    """Mean and standard deviation of each metric over folds."""
    overall = {k: mean_std([f["overall"][k] for f in folds]) for k in OVERALL}
    per_topic = {}
    for t in topic_ids:
        per_topic[t] = {k: mean_std([f["per_topic"][t][k] for f in folds]) for k in PER_TOPIC if k != "support"}
        # every label is tested once per repeat: count it once
        per_topic[t]["support"] = int(sum(f["per_topic"][t]["support"] for f in folds)) // max(1, repeats)
    return {"overall": overall, "per_topic": per_topic, "folds": len(folds) // max(1, repeats), "repeats": repeats}
