"""General-domain word vectors (chiVe) for the words our analyzer produces.

Why: our own word vectors (``train/vectors.py``) are learned from the 102k council
utterances, so they only know what these councils say, and in a held-out
evaluation they never see the held-out council.  chiVe (Works Applications,
Apache-2.0) is skip-gram word2vec learned from the NWJC web corpus over Sudachi
*normalized forms* — the same normalisation our analyzer uses — so it places
words no labeled council used near the words the labels taught.  Measured in
``docs/MODEL.md`` (fifth session): held-out pooled macro-F1 0.539 → 0.576.

Source: the chiVe table shipped inside the ``ja_ginza`` 5.3.0 wheel on PyPI as a
spaCy vocabulary (``vocab/strings.json``, ``vocab/key2row`` — msgpack, spaCy's
64-bit MurmurHash of each string → row — and ``vocab/vectors``, a float32 .npy of
20,000 distinct 300-d rows for 480,443 strings).  :func:`build_general_vectors`
keeps the rows of one vocabulary (by default the words of the bundled own
vectors), backs a compound without a row off to the mean of its Sudachi mode-A
parts, and reduces the 300 dimensions to ``dim`` by PCA.  Nothing here needs
spaCy.

The result is an ordinary vectors file (:class:`train.vectors.WordVectors`,
``meta["kind"] == "general"``): ``features.general_vectors`` names it, and the
model concatenates it per word with the own vectors
(:func:`train.vectors.concat_vectors`).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import InputError
from .store import sha256_file
from .vectors import WordVectors

SOURCE_NOTE = ("chiVe (Works Applications, Apache License 2.0), as pruned and shipped in the ja_ginza wheel "
               "(spaCy vocabulary vectors)")

_M = 0xC6A4A7935BD1E995
_MASK = (1 << 64) - 1


def murmurhash64a(data: bytes, seed: int = 1) -> int:
    """MurmurHash64A, the hash spaCy's StringStore keys strings by (``hash_utf8``: seed 1)."""
    h = (seed ^ ((len(data) * _M) & _MASK)) & _MASK
    n = len(data) // 8
    for i in range(n):
        k = int.from_bytes(data[8 * i:8 * i + 8], "little")
        k = (k * _M) & _MASK
        k ^= k >> 47
        k = (k * _M) & _MASK
        h ^= k
        h = (h * _M) & _MASK
    tail = data[8 * n:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * _M) & _MASK
    h ^= h >> 47
    h = (h * _M) & _MASK
    h ^= h >> 47
    return h


class SpacyVectorTable:
    """The vectors of a spaCy pipeline package (a wheel, or its unpacked ``vocab/`` folder), looked up by string."""

    def __init__(self, key2row: dict[int, int], data: np.ndarray, source: str) -> None:
        self.key2row = key2row
        self.data = data
        self.source = source

    @classmethod
    def open(cls, path: str | Path) -> "SpacyVectorTable":
        path = Path(path)
        hint = ("pass the ja_ginza wheel (pip download ja_ginza==5.3.0 --no-deps) or the vocab/ folder of an "
                "unpacked spaCy pipeline")
        if path.is_dir():
            read = {name: (path / name).read_bytes() for name in ("key2row", "vectors") if (path / name).is_file()}
        elif path.is_file():
            try:
                with zipfile.ZipFile(path) as zf:
                    members = {}
                    for info in zf.infolist():
                        parts = info.filename.split("/")
                        if len(parts) >= 2 and parts[-2] == "vocab" and parts[-1] in ("key2row", "vectors"):
                            members.setdefault(parts[-1], info.filename)
                    read = {name: zf.read(m) for name, m in members.items()}
            except (zipfile.BadZipFile, OSError) as exc:
                raise InputError(f"{path}: expected a wheel (zip) of a spaCy pipeline, found {exc}; {hint}") from None
        else:
            raise InputError(f"{path}: no such file or folder; {hint}")
        missing = sorted({"key2row", "vectors"} - set(read))
        if missing:
            raise InputError(f"{path}: expected a spaCy vocabulary with vocab/key2row and vocab/vectors, "
                             f"found no {' or '.join(missing)}; {hint}")
        try:
            import msgpack

            key2row = msgpack.unpackb(read["key2row"], strict_map_key=False)
            data = np.load(io.BytesIO(read["vectors"]), allow_pickle=False)
        except Exception as exc:  # not msgpack / not an .npy
            raise InputError(f"{path}: could not read its vectors table ({type(exc).__name__}: {exc}); {hint}") from None
        if not isinstance(key2row, dict) or getattr(data, "ndim", 0) != 2 or not key2row:
            raise InputError(f"{path}: expected key2row to map string hashes to rows of a 2-d vectors array, "
                             f"found {type(key2row).__name__} and an array of shape {getattr(data, 'shape', None)}")
        out_of_range = [r for r in key2row.values() if not (isinstance(r, int) and 0 <= r < len(data))]
        if out_of_range:
            raise InputError(f"{path}: expected key2row rows from 0 to {len(data) - 1}, found {out_of_range[0]!r}; "
                             f"{hint}")
        data = np.asarray(data, dtype=np.float32)
        if not np.isfinite(data).all():
            raise InputError(f"{path}: expected finite vectors, found NaN or infinite values; {hint}")
        return cls(key2row, data, str(path))

    def get(self, word: str) -> np.ndarray | None:
        row = self.key2row.get(murmurhash64a(word.encode("utf-8")))
        return None if row is None else self.data[row]


def _mode_a_parts(words: Sequence[str], dictionary: str = "core") -> dict[str, list[str]]:
    """Sudachi mode-A normalized parts of each word (for compounds the general table lacks), split with the
    dictionary the vocabulary's analyzer used."""
    from sudachipy import Dictionary, SplitMode

    tok = Dictionary(dict=dictionary).tokenizer(mode=SplitMode.A, fields={"normalized_form"})
    return {w: [m.normalized_form() for m in tok.tokenize(w)] for w in words}


def build_general_vectors(
    table: SpacyVectorTable,
    vocabulary: WordVectors,
    *,
    dim: int = 100,
    progress: Callable[[str], None] | None = None,
) -> WordVectors:
    """The general table's vectors for ``vocabulary.words`` (mode-A backoff), PCA-reduced to ``dim``.

    ``vocabulary`` is a vectors file built with our analyzer (its words are our tokens; its analyzer key
    is carried over, so models check it exactly as for the own vectors)."""
    if not isinstance(dim, int) or not 2 <= dim <= table.data.shape[1]:
        raise InputError(f"--dim: expected an integer from 2 to {table.data.shape[1]} (the table's width), found {dim!r}")
    t0 = time.time()
    words, rows, missing = [], [], []
    for w in vocabulary.words:
        v = table.get(w)
        if v is None:
            missing.append(w)
        else:
            words.append(w)
            rows.append(v)
    direct = len(words)
    if progress:
        progress(f"{direct:,} of {len(vocabulary.words):,} words found; backing {len(missing):,} off to mode-A parts")
    dictionary = (vocabulary.meta.get("analyzer") or {}).get("dictionary", "core")
    for w, parts in _mode_a_parts(missing, dictionary).items():
        vs = [v for v in (table.get(p) for p in parts if p) if v is not None]
        if vs and 2 * len(vs) >= len(parts):  # at least half of the parts have a row
            words.append(w)
            rows.append(np.mean(vs, axis=0))
    if len(words) <= dim:
        raise InputError(f"only {len(words)} of the vocabulary's {len(vocabulary.words):,} words have a vector in "
                         f"{table.source}; expected more than --dim ({dim}): is it a Japanese (Sudachi) table?")
    V = np.asarray(rows, dtype=np.float64)
    mean = V.mean(axis=0)
    _, s, vt = np.linalg.svd(V - mean, full_matrices=False)
    reduced = ((V - mean) @ vt[:dim].T).astype(np.float32)
    explained = float((s[:dim] ** 2).sum() / (s ** 2).sum())
    meta = {
        "kind": "general",
        "analyzer_key": vocabulary.analyzer_key,
        "analyzer": vocabulary.meta.get("analyzer"),
        "source": SOURCE_NOTE,
        "source_file": Path(table.source).name,
        "source_sha256": sha256_file(table.source) if Path(table.source).is_file() else "",
        "vocabulary_sha256": vocabulary.sha256,
        "settings": {"dim": dim, "pca_explained_variance": round(explained, 4),
                     "backoff": "sudachi mode A mean, at least half of the parts"},
        "words_direct": direct,
        "words_backoff": len(words) - direct,
        "words_without_vector": len(vocabulary.words) - len(words),
        "seconds": round(time.time() - t0, 1),
    }
    return WordVectors(words, reduced, meta)


def describe(wv: WordVectors) -> str:
    m = wv.meta
    return (f"{len(wv.words):,} words x {wv.dim} (general: {m.get('words_direct', 0):,} direct, "
            f"{m.get('words_backoff', 0):,} by mode-A backoff, {m.get('words_without_vector', 0):,} without); "
            f"from {m.get('source_file')} ({json.dumps(m.get('settings'), ensure_ascii=False)})")
