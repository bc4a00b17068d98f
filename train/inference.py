"""The inference surface shared by ``predict``, ``tag-corpus`` and the HTTP service.

``serve`` imports only this module from ``train``::

    from train.inference import load_model
    tagger = load_model("gikai-topics:latest")      # or a model directory
    tagger.tag(["…"], explain=5)
    # [{"topics": ["dx"], "scores": {"dx": 0.93, ...}, "terms": {"dx": [["オンライン", 0.41], ...]}}]

It also reads the HTTP service's settings (``service_settings``): ``gikai-topics serve`` checks them with
this same function before starting the server, so the value it checked is the value the service uses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .envvars import env_int
from .errors import InputError, ModelError
from .store import DEFAULT_NAME, load
from .text import SUDACHI_MAX_BYTES  # re-exported for the service's docs

__all__ = ["Tagger", "load_model", "shown_scores", "InputError", "ModelError", "SUDACHI_MAX_BYTES",
           "ServiceSettings", "service_settings", "SERVICE_INTEGERS", "MAX_BODY_VAR", "largest_request_bytes"]

# The service's integer settings: variable -> (default, lowest accepted value).
SERVICE_INTEGERS: dict[str, tuple[int, int]] = {
    "GIKAI_TOPICS_MAX_CHARS": (20_000, 1),
    "GIKAI_TOPICS_MAX_BATCH": (1_000, 1),
    "GIKAI_TOPICS_MAX_EXPLAIN": (50, 0),
    "GIKAI_TOPICS_WORKERS": (1, 1),
    "GIKAI_TOPICS_THREADS": (4, 1),
}

# The largest HTTP request body the service reads; its default follows the text and batch limits (below).
MAX_BODY_VAR = "GIKAI_TOPICS_MAX_BODY_BYTES"
# What one character of a text can take in a JSON body: a character outside the Basic Multilingual Plane (an
# emoji) written as an escaped surrogate pair, "\ud83d\ude00", is 12 bytes and counts as one character
# (a \uXXXX escape of any other character is 6, and UTF-8 takes at most 4).
JSON_BYTES_PER_CHAR = 12
JSON_BYTES_PER_TEXT = 16  # a text's quotes and comma, and room for the line break and indent of pretty-printing
JSON_ENVELOPE_BYTES = 4096  # {"texts": [...], "explain": 50}, a byte-order mark, and room for whitespace


def largest_request_bytes(max_chars: int, max_batch: int) -> int:
    """The size of the largest valid request body, generously counted: ``max_batch`` texts of ``max_chars``
    characters, every character written in its longest JSON form (``/tag`` takes one text, so it fits too)."""
    return max_batch * (max_chars * JSON_BYTES_PER_CHAR + JSON_BYTES_PER_TEXT) + JSON_ENVELOPE_BYTES


@dataclass(frozen=True)
class ServiceSettings:
    model: str  # a BentoML tag or a model directory
    max_chars: int
    max_batch: int
    max_explain: int
    workers: int
    threads: int
    max_body_bytes: int  # the largest request body read; larger ones are refused unread (HTTP 413)


def service_settings(env: Mapping[str, str] | None = None) -> ServiceSettings:
    """The HTTP service's ``GIKAI_TOPICS_*`` settings from ``env`` (default ``os.environ``), each checked.

    A variable set to the empty string counts as unset and takes its default, as ``GIKAI_TOPICS_CACHE``
    does; any other value must be valid or this raises InputError naming the variable.  The body limit
    (``GIKAI_TOPICS_MAX_BODY_BYTES``) defaults to the largest valid request under the text and batch limits in
    force (``largest_request_bytes``): raising those raises it."""
    env = os.environ if env is None else env
    ints = {var: env_int(env, var, default, low) for var, (default, low) in SERVICE_INTEGERS.items()}
    largest = largest_request_bytes(ints["GIKAI_TOPICS_MAX_CHARS"], ints["GIKAI_TOPICS_MAX_BATCH"])
    return ServiceSettings(
        model=env.get("GIKAI_TOPICS_MODEL") or f"{DEFAULT_NAME}:latest",
        max_chars=ints["GIKAI_TOPICS_MAX_CHARS"],
        max_batch=ints["GIKAI_TOPICS_MAX_BATCH"],
        max_explain=ints["GIKAI_TOPICS_MAX_EXPLAIN"],
        workers=ints["GIKAI_TOPICS_WORKERS"],
        threads=ints["GIKAI_TOPICS_THREADS"],
        max_body_bytes=env_int(env, MAX_BODY_VAR, largest, 1, "bytes"),
    )


THRESHOLD_DECIMALS = 6  # the thresholds as a model's gikai.json shows them (train.training.build_manifest)


def shown_scores(probs: np.ndarray, thresholds: np.ndarray, decimals: int, dtype: type = np.float64) -> np.ndarray:
    """``probs`` rounded to ``decimals`` for output, never across a topic's threshold.

    Topics are decided on the raw scores (``probs >= thresholds``); the shown score keeps the decision visible:
    it is >= the threshold (as the model holds it, and as gikai.json shows it, to 6 decimals) for a listed topic
    and below both for any other.  A rounded score that would land on the wrong side is replaced by the nearest
    rounded value on its side, so it moves at most one step of the last decimal (plus, when the raw score lies
    between the exact threshold and its 6-decimal figure, that difference: under a millionth).  ``dtype`` is the
    type the score is stored as (float32 in Parquet); its own rounding is put right too."""
    p = np.asarray(probs, dtype=np.float64)
    t = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), p.shape)
    t6 = np.round(t, THRESHOLD_DECIMALS)
    high, low = np.maximum(t, t6), np.minimum(t, t6)  # a listed score is shown >= both, another one < both
    listed = p >= t
    scale = 10.0 ** decimals
    shown = np.round(p, decimals)
    above = np.ceil(high * scale) / scale
    below = np.floor(low * scale) / scale
    below = np.round(np.where(below >= low, below - 1 / scale, below), decimals)
    shown = np.where(listed & (shown < high), above, shown)
    shown = np.where(~listed & (shown >= low), below, shown)
    shown = shown.astype(dtype)
    wide = shown.astype(np.float64)  # float error above, or float32's own rounding: one representable step fixes it
    shown = np.where(listed & (wide < high), np.nextafter(shown, dtype(np.inf)), shown)
    return np.where(~listed & (wide >= low), np.nextafter(shown, dtype(-np.inf)), shown)


class Tagger:
    """A loaded, verified model ready to tag texts.  Thread-safe."""

    def __init__(self, model: Any, manifest: dict, tag: str, directory: Path | None = None) -> None:
        self.model = model
        self.manifest = manifest
        self.tag_name = tag
        self.directory = directory  # the verified model directory it was loaded from
        self.topic_ids: list[str] = list(model.topic_ids)
        self.thresholds: dict[str, float] = {t: float(x) for t, x in zip(self.topic_ids, model.thresholds)}

    def __repr__(self) -> str:
        return f"Tagger({self.tag_name!r}, topics={len(self.topic_ids)})"

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, shape (len(texts), n_topics)."""
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InputError(f"texts[{i}]: expected a string, found {type(t).__name__}")
        if not texts:
            return np.zeros((0, len(self.topic_ids)))
        return self.model.predict_proba(list(texts))

    def tag(self, texts: Sequence[str], explain: int = 0) -> list[dict]:
        """Topics over threshold, all scores, and (``explain > 0``) the top terms per assigned topic.

        When no topic passes its threshold, ``terms`` explains the best-scoring topic instead,
        so a caller can see what the model saw.
        """
        if isinstance(texts, str):
            raise InputError("texts: expected a list of strings, found one string; wrap it in a list")
        if not isinstance(explain, int) or isinstance(explain, bool) or explain < 0:
            raise InputError(f"explain: expected an integer >= 0, found {explain!r}")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InputError(f"texts[{i}]: expected a string, found {type(t).__name__}")
        if not texts:
            return []
        m = self.model
        tokens = [m.analyzer(t) for t in texts]
        X = m.transform(tokens, texts)
        probs = m.scores(X)
        decided = probs >= m.thresholds
        shown = shown_scores(probs, m.thresholds, 4)
        results = []
        for r in range(len(texts)):
            picked = [self.topic_ids[j] for j in np.flatnonzero(decided[r])]
            res = {
                "topics": picked,
                "scores": {t: float(p) for t, p in zip(self.topic_ids, shown[r])},
            }
            if explain:
                idx = list(np.flatnonzero(decided[r])) or [int(np.argmax(probs[r]))]
                res["terms"] = {t: [[w, c] for w, c in terms]
                                for t, terms in m.explain_rows(X[r], idx, explain)[0].items()}
            results.append(res)
        return results

    def info(self) -> dict:
        """Taxonomy, thresholds, tag, training metadata and CV summary (for ``/topics``)."""
        keep = ("name", "topics", "topic_names", "label_count", "label_positives", "taxonomy_sha256",
                "label_set_sha256", "trained_at", "training_seconds", "git_commit", "libraries", "config",
                "cv_summary", "n_features")
        return {"model": self.tag_name, "thresholds": self.thresholds, **{k: self.manifest.get(k) for k in keep}}


def load_model(ref: str | os.PathLike | None = None) -> Tagger:
    """Load a model from the BentoML store (``name[:version]``, default ``gikai-topics:latest``)
    or from a model directory, verifying its file digests first."""
    model, manifest, tag, directory = load(ref)
    if not hasattr(model, "predict_proba_tokens") or not getattr(model, "fitted", False):
        raise ModelError(f"{ref}: the stored object is not a fitted gikai-topics model")
    return Tagger(model, manifest, tag, directory)
