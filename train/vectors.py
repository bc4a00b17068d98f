"""Word vectors learned from the raw corpus, used as a dense feature block beside TF-IDF.

Why: TF-IDF only knows the words it saw in labeled text.  A new assembly names
the same policies with other words (its own programmes, places and habits of
speech), and with TF-IDF alone the model trained on one assembly missed most
topics of another (docs/MODEL.md).  Skip-gram word2vec vectors trained on the
*unlabeled* corpus place such words near the ones the labels taught, so the
TF-IDF-weighted mean vector of an utterance carries its topic across
vocabularies.  The classifier stays linear: the mean vector is just more
columns.

A vectors file (``.npz``) holds the words, their vectors (float16) and a JSON
``meta`` record (analyzer settings key, training settings, corpus digest,
assemblies left out).  Models do not need the file at inference time: training
copies the rows of its own vocabulary into the model.

``gensim`` is needed only to *build* vectors (``gikai-topics vectors build``, :mod:`train.vectors_build`).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from .atomic import atomic_open
from .config import _expect
from .errors import ConfigError, InputError
from .store import sha256_file

#: The vectors shipped with the package (built from the bundled seeds/ corpus).
BUNDLED = "bundled"
BUNDLED_PATH = Path(__file__).parent / "resources" / "word-vectors.npz"
FORMAT = 1


@dataclasses.dataclass(frozen=True)
class VectorSettings:
    """How word2vec is trained.  ``workers=1`` keeps a build reproducible: the same words and rows (the file also records the build time)."""

    dim: int = 100
    window: int = 5
    min_count: int = 3
    epochs: int = 5
    seed: int = 0
    workers: int = 1

    def __post_init__(self) -> None:
        _expect(isinstance(self.dim, int) and 8 <= self.dim <= 1000, "vectors build --dim", "an integer from 8 to 1000",
                self.dim)
        _expect(isinstance(self.window, int) and 1 <= self.window <= 50, "VectorSettings.window", "an integer from 1 to 50",
                self.window)
        _expect(isinstance(self.min_count, int) and self.min_count >= 1, "vectors build --min-count", "an integer >= 1",
                self.min_count)
        _expect(isinstance(self.epochs, int) and 1 <= self.epochs <= 100, "vectors build --epochs", "an integer from 1 to 100",
                self.epochs)
        _expect(isinstance(self.seed, int), "VectorSettings.seed", "an integer", self.seed)
        _expect(isinstance(self.workers, int) and self.workers >= 1, "vectors build --workers", "an integer >= 1", self.workers)


@dataclasses.dataclass
class WordVectors:
    words: list[str]
    vectors: np.ndarray  # float32, len(words) x dim
    meta: dict

    def __post_init__(self) -> None:
        self._index = {w: i for i, w in enumerate(self.words)}

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def analyzer_key(self) -> str:
        return str(self.meta.get("analyzer_key", ""))

    @property
    def sha256(self) -> str:
        return str(self.meta.get("sha256", ""))

    def rows_for(self, vocabulary: Sequence[str]):
        """A sparse (len(vocabulary) x dim) matrix: row i is the vector of ``vocabulary[i]``
        (zero for words without a vector, e.g. bigram features)."""
        import scipy.sparse as sp

        rows, idx = [], []
        for i, w in enumerate(vocabulary):
            j = self._index.get(w)
            if j is not None:
                rows.append(i)
                idx.append(j)
        data = self.vectors[np.asarray(idx, dtype=np.int64)].ravel()
        r = np.repeat(np.asarray(rows, dtype=np.int64), self.dim)
        c = np.tile(np.arange(self.dim), len(rows))
        return sp.csr_matrix((data, (r, c)), shape=(len(vocabulary), self.dim), dtype=np.float32)

    def save(self, path: str | Path) -> None:
        meta = dict(self.meta)
        meta["format"] = FORMAT
        with np.errstate(over="ignore"):
            half = self.vectors.astype(np.float16)
        if not np.isfinite(half).all():  # values past float16's range would be written as inf: an unusable file
            raise InputError(f"{path}: expected vector values that fit the file's float16 (at most "
                             f"{float(np.finfo(np.float16).max):g} in size), found up to "
                             f"{float(np.nanmax(np.abs(self.vectors))):g}; scale the source vectors down. "
                             "Nothing was written")
        with atomic_open(path, "wb") as fh:
            np.savez_compressed(fh, words=np.asarray(self.words, dtype=str),
                                vectors=half,
                                meta=np.asarray(json.dumps(meta, ensure_ascii=False)))


#: the bundled general-domain vectors (chiVe, see train/general_vectors.py)
GENERAL_BUNDLED_PATH = Path(__file__).parent / "resources" / "general-vectors.npz"


def resolve_path(spec: str, *, general: bool = False) -> Path:
    if spec == BUNDLED:
        return GENERAL_BUNDLED_PATH if general else BUNDLED_PATH
    return Path(spec)


_LOADED: dict[tuple[str, float, int], WordVectors] = {}
_LOCK = threading.Lock()


def load_vectors(spec: str | Path, *, general: bool = False, option: str | None = None,
                 any_kind: bool = False) -> WordVectors:
    """Read a vectors file (``"bundled"`` for the packaged one; with ``general``, the packaged general-domain
    table, and the file must be one, unless ``any_kind``); cached per process.  ``option`` names the setting
    in error messages."""
    path = resolve_path(str(spec), general=general)
    build = "gikai-topics vectors general WHEEL --out FILE" if general else "gikai-topics vectors build --out FILE"
    option = option or ("features.general_vectors" if general else "features.vectors")
    if not path.is_file():
        hint = "reinstall the package" if str(spec) == BUNDLED else f"build one with `{build}`"
        if str(spec) != BUNDLED and option.startswith("features."):
            hint += f", or set {option} = \"bundled\""
        raise ConfigError(f"{option}: expected a word-vectors .npz file, found no file at {path}: {hint}")
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime, st.st_size)
    wv = _LOADED.get(key)
    if wv is None:
        wv = _read_vectors(path, build)
        with _LOCK:
            if len(_LOADED) >= 4:  # a fit uses one own and one general file; held-out evaluation a few own ones
                _LOADED.pop(next(iter(_LOADED)), None)
            _LOADED[key] = wv
    kind = wv.meta.get("kind", "own")
    if not any_kind and general != (kind == "general"):
        want = "general-domain vectors (`gikai-topics vectors general`)" if general else \
            "vectors learned from a corpus (`gikai-topics vectors build`)"
        raise ConfigError(f"{option}: expected {want}, found a file of {kind} vectors at {path}; "
                          f"use it as features.{'vectors' if kind != 'general' else 'general_vectors'} instead")
    return wv


def _read_vectors(path: Path, build: str) -> WordVectors:
    import zipfile

    if not zipfile.is_zipfile(path):  # else numpy's message suggests loading it as a pickle, "unsafely"
        raise ConfigError(f"{path}: not a word-vectors file (expected an .npz archive); build one with `{build}`")
    try:
        with np.load(path, allow_pickle=False) as z:
            words = [str(w) for w in z["words"]]
            vectors = z["vectors"].astype(np.float32)
            meta = json.loads(str(z["meta"]))
    except Exception as exc:  # not an npz, missing arrays, bad JSON
        raise ConfigError(f"{path}: not a word-vectors file ({type(exc).__name__}: {exc}); "
                          f"build one with `{build}`") from None
    if not isinstance(meta, dict):  # meta.get below would be an AttributeError traceback
        raise ConfigError(f"{path}: expected its meta record to be a JSON object, found {type(meta).__name__}; "
                          f"build the file with `{build}`")
    if meta.get("format") != FORMAT or vectors.ndim != 2 or len(words) != vectors.shape[0]:
        raise ConfigError(f"{path}: expected a format-{FORMAT} vectors file with one vector per word, "
                          f"found format {meta.get('format')!r}, {len(words)} words and shape {vectors.shape}")
    # each of these passed and then gave silently wrong features (no words, no columns, a word's row
    # shadowed by a later one) or a fit ending in sklearn's "Input X contains NaN" traceback
    duplicates = len(words) - len(set(words))
    if not words or vectors.shape[1] == 0 or duplicates or not np.isfinite(vectors).all():
        found = ("no words" if not words else "vectors of 0 dimensions" if vectors.shape[1] == 0 else
                 f"{duplicates} word(s) listed twice" if duplicates else "NaN or infinite values")
        raise ConfigError(f"{path}: expected at least one word, each listed once with a finite vector of at least "
                          f"one dimension, found {found}; rebuild the file with `{build}`")
    meta["sha256"] = sha256_file(path)
    return WordVectors(words, vectors, meta)


def concat_vectors(own: WordVectors | None, general: WordVectors | None) -> WordVectors | None:
    """Per word, ``[own | general]``: each table scaled to unit mean row norm (so neither dominates the mean
    vector by scale), zeros where a table lacks the word.  The own table's meta is kept, with the general
    table's under ``"general"``."""
    if general is None:
        return own
    general_meta = {k: general.meta.get(k) for k in ("sha256", "source", "source_file", "settings")}
    general_meta["words"] = len(general.words)
    if own is None:
        return WordVectors(general.words, general.vectors,
                           {"analyzer_key": general.analyzer_key, "general": general_meta})

    def unit(v: np.ndarray) -> np.ndarray:
        n = float(np.linalg.norm(v, axis=1).mean())
        return v / n if n > 0 else v
    words = list(dict.fromkeys(own.words + general.words))
    index = {w: i for i, w in enumerate(words)}
    out = np.zeros((len(words), own.dim + general.dim), dtype=np.float32)
    out[[index[w] for w in own.words], :own.dim] = unit(own.vectors)
    out[[index[w] for w in general.words], own.dim:] = unit(general.vectors)
    meta = dict(own.meta)
    meta["general"] = general_meta
    return WordVectors(words, out, meta)
