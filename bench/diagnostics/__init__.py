"""One-off model diagnostics whose figures docs/MODEL.md quotes (not benchmark sections: they print F1, not time)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from train.cache import TokenCache, default_cache_dir
from train.config import TrainConfig, load_config
from train.corpus import UNKNOWN_ASSEMBLY
from train.evaluation.cv import EvalOptions
from train.evaluation.heldout import plan_held_out
from train.labeling.store import label_matrix, read_labels
from train.paths import default_path
from train.text import JapaneseAnalyzer


@dataclass
class HeldOutData:
    """The committed labels as evaluate reads them (in id order), their tokens, and evaluate's held-out splits."""

    config: TrainConfig
    ids: list[str]
    texts: list[str]
    groups: list[str]
    Y: np.ndarray
    tokens: list
    splits: dict  # assembly -> (train indices, scored test indices)
    cache: TokenCache


def held_out_data(options: EvalOptions) -> HeldOutData:
    """Everything a held-out diagnostic starts from: the embedded config, ``labels/`` and the token cache."""
    config = load_config(None)
    labels = read_labels(default_path("labels"))[0].in_id_order()
    ids, ex = labels.taxonomy.ids, labels.examples
    texts, groups = [e.text for e in ex], [e.group for e in ex]
    unscored = np.array([e.model_chosen for e in ex], dtype=bool)
    cache = TokenCache(JapaneseAnalyzer(config.analyzer), default_cache_dir())
    splits, _ = plan_held_out([e.municipality or UNKNOWN_ASSEMBLY for e in ex], groups, unscored, config, options,
                              print)
    return HeldOutData(config, ids, texts, groups, label_matrix(ex, ids), cache.tokens(texts), splits, cache)
