"""One-off model diagnostics whose figures docs/MODEL.md quotes (not benchmark sections: they print F1, not time)."""

from __future__ import annotations

from dataclasses import dataclass

from train.cache import TokenCache
from train.config import TrainConfig, load_config
from train.evaluation.cv import EvalOptions
from train.evaluation.heldout import plan_held_out
from train.evaluation.inputs import EvalInputs, analysed_tokens
from train.labeling.store import read_labels
from train.paths import default_path


@dataclass
class HeldOutData:
    """The committed labels as evaluate reads them (in id order), their tokens, and evaluate's held-out splits."""

    config: TrainConfig
    inputs: EvalInputs  # ids, texts, groups, assemblies, Y, ...
    tokens: list
    splits: dict  # assembly -> (train indices, scored test indices)
    cache: TokenCache


def held_out_data(options: EvalOptions) -> HeldOutData:
    """Everything a held-out diagnostic starts from: the embedded config, ``labels/`` read as evaluate reads them
    (:class:`train.evaluation.inputs.EvalInputs`) and their tokens through the shared cache."""
    config = load_config(None)
    data = EvalInputs.from_labels(read_labels(default_path("labels"))[0], options.score_model_chosen)
    tokens, cache = analysed_tokens(data.texts, config)
    splits, _ = plan_held_out(data.assemblies, data.groups, data.unscored, config, options, print)
    return HeldOutData(config, data, tokens, splits, cache)
