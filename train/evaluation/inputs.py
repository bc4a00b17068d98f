"""What every evaluation starts from: the labels as arrays in id order, and their analysed tokens.

:func:`train.evaluation.cv.cross_validate` and the held-out diagnostics in ``bench/diagnostics`` read the labels
the same way, so that a diagnostic's folds are evaluate's folds.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..cache import TokenCache, default_cache_dir
from ..config import TrainConfig
from ..corpus import UNKNOWN_ASSEMBLY
from ..labeling.store import LabelSet, label_matrix
from ..text import JapaneseAnalyzer


@dataclasses.dataclass(frozen=True)
class EvalInputs:
    """The labels in id order: topic ids, examples, texts, near-duplicate groups, assemblies, the label matrix,
    which examples a model chose for labeling and which are left unscored (those, unless scoring them was asked for)."""

    ids: list[str]
    examples: list
    texts: list[str]
    groups: list[str]
    assemblies: list[str]
    Y: np.ndarray
    chosen: np.ndarray
    unscored: np.ndarray

    @classmethod
    def from_labels(cls, labels: LabelSet, score_model_chosen: bool = False) -> EvalInputs:
        labels = labels.in_id_order()
        ids, examples = labels.taxonomy.ids, labels.examples
        chosen = np.array([ex.model_chosen for ex in examples], dtype=bool)
        return cls(ids=ids, examples=examples, texts=[ex.text for ex in examples], groups=[ex.group for ex in examples],
                   assemblies=[ex.municipality or UNKNOWN_ASSEMBLY for ex in examples],
                   Y=label_matrix(examples, ids), chosen=chosen, unscored=chosen & (not score_model_chosen))


def analysed_tokens(texts: list[str], config: TrainConfig, cache: TokenCache | None = None
                    ) -> tuple[list, TokenCache]:
    """The texts' token lists through the shared token cache (saved afterwards), and that cache."""
    cache = cache or TokenCache(JapaneseAnalyzer(config.analyzer), default_cache_dir())
    tokens = cache.tokens(texts)
    cache.save()
    return tokens, cache
