"""Training: labels → fitted model → BentoML store (and optionally a directory)."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Callable

from .cache import TokenCache, default_cache_dir
from .config import TrainConfig
from .errors import ModelError
from .fitting import configured_vectors, workers_for
from .labeling.store import LabelSet, group_fingerprints, label_matrix, read_labels
from .model import TopicClassifier
from .store import (DEFAULT_NAME, check_export_dir, check_name, export_dir, read_manifest, remove_from_bentoml,
                    save_to_bentoml)
from .taxonomy import Taxonomy, load_taxonomy, parse_taxonomy
from .text import JapaneseAnalyzer
from .versions import git_commit, library_versions, now_iso


@dataclasses.dataclass
class TrainResult:
    model: TopicClassifier
    manifest: dict
    tag: str | None
    out: Path | None
    seconds: float


def fit_labels(labels: LabelSet, config: TrainConfig, *, cache: TokenCache | None = None,
               progress: Callable[[str], None] | None = None, n_jobs: int | None = None) -> TopicClassifier:
    """Fit a model on ``labels`` taken in id order: the same label set gives the same model, whatever the files'
    names, order and line order."""
    labels = labels.in_id_order()
    ids = labels.taxonomy.ids
    texts = [ex.text for ex in labels.examples]
    configured_vectors(config)  # a bad vectors setting is refused before the slow analysis
    cache = cache or TokenCache(JapaneseAnalyzer(config.analyzer), default_cache_dir())
    if progress:
        progress(f"analysing {len(texts):,} utterances")
    tokens = cache.tokens(texts)
    cache.save()
    model = TopicClassifier(config, ids)
    model.fit(tokens, label_matrix(labels.examples, ids), texts=texts, groups=[ex.group for ex in labels.examples],
              progress=progress, n_jobs=n_jobs)
    model.training_groups = group_fingerprints(labels.examples)
    return model


def build_manifest(name: str, model: TopicClassifier, labels: LabelSet, taxonomy: Taxonomy, seconds: float, *,
                   commit: str | None, libraries: dict[str, str]) -> dict:
    """The model's ``gikai.json`` record.  ``commit`` and ``libraries`` are what :func:`train` read before the fit:
    the code that trained the model, whatever happens to the checkout while it runs."""
    return {
        "name": name,
        "topics": taxonomy.ids,
        "topic_names": {t.id: {"ja": t.ja, "en": t.en} for t in taxonomy.topics},
        "thresholds": {t: round(float(x), 6) for t, x in zip(model.topic_ids, model.thresholds)},
        "config": model.config.to_dict(),
        "taxonomy_sha256": taxonomy.sha256,
        "label_set_sha256": labels.sha256,
        "label_count": len(labels),
        "label_positives": {t: int(sum(t in ex.topics for ex in labels.examples)) for t in taxonomy.ids},
        "libraries": libraries,
        "git_commit": commit,
        #: what the analyzer produced at training (settings, stop list): store.verify refuses the model where the
        #: same settings now give another key, since its features would no longer match its weights
        "analyzer_key": model.config.analyzer.key,
        "trained_at": now_iso(),
        "training_seconds": round(seconds, 2),
        "cv_summary": {"kind": "internal out-of-fold F1 at the tuned thresholds",
                       "folds": model.config.thresholds.folds,
                       "f1": {t: None if v is None else round(v, 4) for t, v in model.oof_f1.items()},
                       # over the topics with positives: one without any has no F1 (null above), not 0
                       "macro_f1": None if model.oof_macro_f1 is None else round(model.oof_macro_f1, 4)},
        "n_features": int(model.W.shape[0]),
        "vectors": model.vectors_info,
    }


def train(
    labels_path: str | Path = "labels",
    config: TrainConfig | None = None,
    *,
    name: str = DEFAULT_NAME,
    out: Path | None = None,
    to_store: bool = True,
    taxonomy_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
    n_jobs: int | None = None,
) -> TrainResult:
    """Validate labels, fit, then save to the BentoML store and/or ``out``.

    Nothing is written unless the fit completes: the store entry and the
    exported directory both appear atomically, and an export to ``out`` that
    fails or is interrupted removes the version just stored again.
    """
    config = config or TrainConfig()
    if n_jobs is not None:
        workers_for(n_jobs)  # refused before anything is read
    if to_store:
        check_name(name)
    if out is not None:
        check_export_dir(Path(out))  # before the fit: a bad --out must not cost a fit nor leave a stored version
    # what trains the model is fixed here, before the fit (minutes at 50k labels): a commit, checkout or edit of
    # the checkout meanwhile must not be recorded as the code that trained it, and the taxonomy saved beside the
    # model is the text it was trained with, not the file as it is after the fit
    commit, libraries = git_commit(), library_versions(config.analyzer.dictionary)
    taxonomy = load_taxonomy(taxonomy_path)
    taxonomy_text = Path(taxonomy.path).read_text(encoding="utf-8")
    if hashlib.sha256(taxonomy_text.encode("utf-8")).hexdigest() != taxonomy.sha256:  # changed since it was read
        taxonomy = parse_taxonomy(taxonomy_text, taxonomy.path)
    labels, _ = read_labels(labels_path, taxonomy)  # raises LabelError listing every problem
    t0 = time.perf_counter()
    model = fit_labels(labels, config, progress=progress, n_jobs=n_jobs)
    seconds = time.perf_counter() - t0
    manifest = build_manifest(name, model, labels, taxonomy, seconds, commit=commit, libraries=libraries)
    if progress:
        progress("saving")
    tag = save_to_bentoml(name, model, manifest, taxonomy_text) if to_store else None
    try:
        if tag:
            manifest["tag"] = tag
        if out is not None:
            export_dir(Path(out), model, manifest, taxonomy_text)
    except BaseException:  # a failed or interrupted export (Ctrl-C, SIGTERM): take the stored version back
        if tag and not (out is not None and _exported(Path(out), tag)):
            remove_from_bentoml(tag)
        raise
    return TrainResult(model, manifest, tag, Path(out) if out else None, seconds)


def _exported(out: Path, tag: str) -> bool:
    """Whether ``out`` already holds the model saved as ``tag`` (an interrupt that arrived after the export
    was moved into place: both copies are complete, so the stored one stays)."""
    try:
        return read_manifest(out).get("tag") == tag
    except ModelError:  # no manifest there, or not a readable one: not this export
        return False
