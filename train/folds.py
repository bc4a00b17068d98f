"""Leakage-safe multi-label fold assignment.

Near-duplicate groups are kept inside one fold; within that constraint folds
are iteratively stratified over the topics (Sechidis et al. 2011, via the
iterative-stratification package) so every fold sees each rare topic.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from .errors import InputError


def stratified_group_folds(
    Y: np.ndarray, groups: Sequence[str], n_folds: int, *, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train_idx, test_idx) pairs; no group is split across a pair's sides."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    Y = np.asarray(Y)
    n = len(groups)
    if n_folds < 2:
        raise InputError(f"folds: expected at least 2, found {n_folds}")
    members: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    keys = list(members)
    if len(keys) < n_folds:
        raise InputError(f"folds: cannot make {n_folds} folds from {len(keys)} distinct utterances (near-duplicates "
                         "count once); use fewer folds (--folds, or thresholds.folds in the config) or more labels")
    # one row per group: the union of its members' labels (plus a column so
    # zero-topic groups are spread too)
    G = np.zeros((len(keys), Y.shape[1] + 1), dtype=np.int8)
    for r, k in enumerate(keys):
        idx = members[k]
        G[r, :-1] = Y[idx].max(axis=0)
        G[r, -1] = 1 if G[r, :-1].sum() == 0 else 0
    splitter = MultilabelStratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    out = []
    for g_train, g_test in splitter.split(np.zeros(len(keys)), G):
        test = np.sort(np.concatenate([members[keys[r]] for r in g_test]).astype(int))
        mask = np.ones(n, dtype=bool)
        mask[test] = False
        out.append((np.flatnonzero(mask), test))
    return out
