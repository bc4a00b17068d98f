"""Multi-label metrics: per topic and overall, and their mean ± std over folds."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, hamming_loss, precision_recall_fscore_support

OVERALL = ("micro_f1", "macro_f1", "samples_f1", "subset_accuracy", "hamming_loss")
PER_TOPIC = ("precision", "recall", "f1", "support", "average_precision")


def compute(Y: np.ndarray, pred: np.ndarray, scores: np.ndarray | None, topic_ids: list[str]) -> dict:
    """Metrics of one evaluation.  ``macro_f1`` averages the topics with support > 0."""
    Y = np.asarray(Y).astype(int)
    pred = np.asarray(pred).astype(int)
    p, r, f, s = precision_recall_fscore_support(Y, pred, average=None, zero_division=0)
    per_topic = {}
    for j, t in enumerate(topic_ids):
        ap = None
        if scores is not None and Y[:, j].sum() > 0:
            ap = float(average_precision_score(Y[:, j], scores[:, j]))
        per_topic[t] = {"precision": float(p[j]), "recall": float(r[j]), "f1": float(f[j]), "support": int(s[j]),
                        "predicted": int(pred[:, j].sum()), "average_precision": ap}
    present = [j for j in range(len(topic_ids)) if s[j] > 0]
    overall = {
        "micro_f1": float(f1_score(Y, pred, average="micro", zero_division=0)),
        "macro_f1": float(np.mean([f[j] for j in present])) if present else 0.0,
        "samples_f1": float(f1_score(Y, pred, average="samples", zero_division=1)),
        "subset_accuracy": float((Y == pred).all(axis=1).mean()) if len(Y) else 0.0,
        "hamming_loss": float(hamming_loss(Y, pred)) if len(Y) else 0.0,
        "topics_with_support": len(present),
        "n": int(len(Y)),
    }
    return {"overall": overall, "per_topic": per_topic}


def aggregate(folds: list[dict], topic_ids: list[str], repeats: int = 1) -> dict:
    """Mean and standard deviation of each metric over folds."""
    def ms(values):
        vals = [v for v in values if v is not None]
        if not vals:
            return {"mean": None, "std": None}
        return {"mean": float(np.mean(vals)), "std": float(np.std(vals))}

    overall = {k: ms([f["overall"][k] for f in folds]) for k in OVERALL}
    per_topic = {}
    for t in topic_ids:
        per_topic[t] = {k: ms([f["per_topic"][t][k] for f in folds]) for k in PER_TOPIC if k != "support"}
        # every label is tested once per repeat: count it once
        per_topic[t]["support"] = int(sum(f["per_topic"][t]["support"] for f in folds)) // max(1, repeats)
    return {"overall": overall, "per_topic": per_topic, "folds": len(folds) // max(1, repeats), "repeats": repeats}
