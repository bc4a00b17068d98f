"""Evaluating a saved model on a labeled test file."""

from __future__ import annotations

from pathlib import Path

from ..errors import LabelError
from ..inference import Tagger
from ..labeling.store import label_matrix, read_labels
from ..taxonomy import parse_taxonomy
from ..versions import library_versions, now_iso
from . import metrics


def evaluate_saved(tagger: Tagger, test_file: Path) -> dict:
    """The same metrics as CV, for a saved model on a labeled JSONL file (labels format)."""
    taxonomy = parse_taxonomy(_model_taxonomy_text(tagger), "model taxonomy")
    labels, _ = read_labels(test_file, taxonomy)
    ids = tagger.topic_ids
    if ids != taxonomy.ids:
        raise LabelError("the model's topics differ from its taxonomy file; the model is damaged")
    Y = label_matrix(labels.examples, ids)
    scores = tagger.scores([ex.text for ex in labels.examples])
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
        "test": metrics.compute(Y, pred, scores, ids),
        "_arrays": {"Y": Y, "scores": scores, "pred": pred},
    }


def _model_taxonomy_text(tagger: Tagger) -> str:
    from ..store import TAXONOMY_FILE

    return (tagger.directory / TAXONOMY_FILE).read_text(encoding="utf-8")
