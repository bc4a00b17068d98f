"""Inter-annotator agreement between two independent labeling passes."""

from __future__ import annotations

import os

import numpy as np
from sklearn.metrics import cohen_kappa_score, f1_score

from ..errors import LabelError
from .store import LabelSet, label_matrix


def agreement(first: LabelSet, second: LabelSet) -> dict:
    """Per-topic Cohen's kappa and F1 (second pass scored against the first) on the shared ids.

    Raises :class:`LabelError` when the passes share a file: its labels would be compared with themselves."""
    same = [f for f in second.files if any(os.path.samefile(f, g) for g in first.files)]
    if same:  # e.g. `labels agreement labels labels/round3.jsonl`: 100 % agreement that measures nothing
        raise LabelError(f"{same[0]}: is read as both the first and the second pass, so its labels would be "
                         "compared with themselves; expected the second pass in files apart from the first "
                         "(e.g. labels/agreement/second-pass.jsonl)")
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
        # undefined when neither pass varies (e.g. no positive in the sample): reported as such, not as 1.0
        kappa = None if both_constant else float(cohen_kappa_score(a, b))
        topics[t] = {
            "kappa": kappa,
            # F1 is 0/0, as undefined as kappa, where neither pass has a positive: None, not a perfect 1.0
            "f1": float(f1_score(a, b)) if a.any() or b.any() else None,
            "positives_first": int(a.sum()),
            "positives_second": int(b.sum()),
            "disagreements": int((a != b).sum()),
        }
    exact = float((A == B).all(axis=1).mean())
    return {
        "items": len(shared),
        "exact_match": exact,
        # over the topics where kappa is defined; None when it is defined for none
        "mean_kappa": (float(np.mean(defined)) if (defined := [v["kappa"] for v in topics.values()
                                                                 if v["kappa"] is not None]) else None),
        "topics_without_kappa": [t for t, v in topics.items() if v["kappa"] is None],
        "micro_f1": float(f1_score(A, B, average="micro")) if A.any() or B.any() else None,
        "topics": topics,
        "disagreeing_ids": [ex.id for ex, ra, rb in zip(shared, A, B) if (ra != rb).any()],
    }
