"""Evaluating a saved model on a labeled test file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError, LabelError
from ..inference import Tagger
from ..labeling.store import label_matrix, read_labels
from ..taxonomy import parse_taxonomy
from ..versions import library_versions, now_iso
from . import metrics


def evaluate_saved(tagger: Tagger, test_file: Path, *, score_model_chosen: bool = False) -> dict:
    """The same metrics as CV, for a saved model on a labeled JSONL file (labels format).

    As in CV, labels that `labels pool` chose by a model's uncertainty are not scored unless
    ``score_model_chosen``: a test set picked where a model was unsure is not the utterances the product meets."""
    taxonomy = parse_taxonomy(_model_taxonomy_text(tagger), "model taxonomy")
    labels, _ = read_labels(test_file, taxonomy)
    ids = tagger.topic_ids
    if ids != taxonomy.ids:
        raise LabelError("the model's topics differ from its taxonomy file; the model is damaged")
    examples = labels.examples
    if labels.sha256 == tagger.manifest.get("label_set_sha256"):
        raise InputError(f"--test {test_file}: expected labels the model was not trained on, found the very label "
                         "set it was trained on; pass held-back labels (or use `evaluate` without --model for CV)")
    trained = getattr(tagger.model, "training_groups", None)  # None: a model saved before it was recorded
    keys = np.array([int(ex.group, 16) for ex in examples], dtype=np.uint64)
    seen = np.isin(keys, trained) if trained is not None else np.zeros(len(examples), dtype=bool)
    if len(examples) and seen.all():
        raise InputError(f"--test {test_file}: expected labels the model was not trained on, found that all "
                         f"{len(examples):,} repeat utterances of its training labels; pass held-back labels")
    chosen = np.array([ex.model_chosen for ex in examples], dtype=bool)
    scored = ~seen & ~(chosen & (not score_model_chosen))
    if not scored.any():
        raise InputError(f"--test {test_file}: expected labels to score, found none of its {len(examples):,}: "
                         f"{int((chosen & ~seen).sum()):,} chosen by a model's uncertainty (not scored; "
                         f"--score-model-chosen scores them) and {int(seen.sum()):,} repeating its training "
                         "utterances; pass randomly chosen held-back labels")
    examples = [ex for ex, keep in zip(examples, scored) if keep]
    Y = label_matrix(examples, ids)
    scores = tagger.scores([ex.text for ex in examples])
    pred = scores >= tagger.model.thresholds
    return {
        "kind": "test_set",
        "created_at": now_iso(),
        "model": tagger.tag_name,
        "test_file": str(test_file),
        "stamp": {"config": tagger.manifest.get("config"), "label_set_sha256": labels.sha256,
                  "label_count": len(labels), "taxonomy_sha256": taxonomy.sha256,
                  "model_label_set_sha256": tagger.manifest.get("label_set_sha256"),
                  "libraries": library_versions()},
        "topics": ids,
        "overlap": {"test_items": len(labels), "excluded": int(seen.sum()),
                    "checked": trained is not None},
        "model_chosen": {"labels": int(chosen.sum()), "scored": bool(score_model_chosen)},
        "test": metrics.compute(Y, pred, scores, ids),
        "_arrays": {"Y": Y, "scores": scores, "pred": pred},
    }


def _model_taxonomy_text(tagger: Tagger) -> str:
    from ..store import TAXONOMY_FILE

    return (tagger.directory / TAXONOMY_FILE).read_text(encoding="utf-8")
