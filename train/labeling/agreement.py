"""Inter-annotator agreement between two independent labeling passes."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import cohen_kappa_score, f1_score

from .store import LabelSet, label_matrix


def agreement(first: LabelSet, second: LabelSet) -> dict:
    """Per-topic Cohen's kappa and F1 (second pass scored against the first) on the shared ids."""
    ids = first.taxonomy.ids
    a_by_id = {ex.id: ex for ex in first.examples}
    shared = [ex for ex in second.examples if ex.id in a_by_id]
    if not shared:
        return {"items": 0, "topics": {}}
    A = label_matrix([a_by_id[ex.id] for ex in shared], ids)
    B = label_matrix(shared, ids)
    topics = {}
    for j, t in enumerate(ids):
        a, b = A[:, j], B[:, j]
        both_constant = a.min() == a.max() == b.min() == b.max()
        kappa = 1.0 if both_constant else float(cohen_kappa_score(a, b))
        topics[t] = {
            "kappa": kappa,
            "f1": float(f1_score(a, b, zero_division=1.0)),
            "positives_first": int(a.sum()),
            "positives_second": int(b.sum()),
            "disagreements": int((a != b).sum()),
        }
    exact = float((A == B).all(axis=1).mean())
    return {
        "items": len(shared),
        "exact_match": exact,
        "mean_kappa": float(np.mean([v["kappa"] for v in topics.values()])),
        "micro_f1": float(f1_score(A, B, average="micro", zero_division=1.0)),
        "topics": topics,
        "disagreeing_ids": [ex.id for ex, ra, rb in zip(shared, A, B) if (ra != rb).any()],
    }
