"""Tokenize once: analysed token lists cached by text hash and analyzer settings.

Cross-validation folds, learning curves and parameter searches all ask for the
tokens of the same texts; the cache answers them without running Sudachi
again.  It lives in memory and, when a folder is given, on disk
(``<dir>/tokens-<settings key>-<sudachi versions key>.pkl``) so repeated runs start warm.  The versions
of SudachiPy and of the dictionary package are part of the file name: after either is upgraded the
tokens come from the new dictionary, as serving's do, not from a cache of the old one.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from importlib import metadata
from pathlib import Path
from typing import Callable, Sequence

from .atomic import atomic_write_bytes
from .text import JapaneseAnalyzer


def default_cache_dir() -> Path | None:
    value = os.environ.get("GIKAI_TOPICS_CACHE")
    if value == "off":
        return None
    if value:
        return Path(value)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gikai-topics"


def sudachi_versions(dictionary: str) -> str:
    """The installed SudachiPy and ``sudachidict-<dictionary>`` versions, e.g.
    ``"sudachipy 0.7.0; sudachidict-core 20261015"``: what a cached token list also depends on."""
    out = []
    for name in ("sudachipy", f"sudachidict-{dictionary}"):
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} not installed")
    return "; ".join(out)


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class TokenCache:
    def __init__(self, analyzer: JapaneseAnalyzer, directory: Path | None = None) -> None:
        self.analyzer = analyzer
        self.directory = directory
        self.versions = sudachi_versions(analyzer.settings.dictionary)
        self._mem: dict[bytes, tuple[str, ...]] = {}
        self._dirty = False
        self.hits = 0
        self.misses = 0
        if directory is not None and self.path.is_file():
            try:
                with open(self.path, "rb") as fh:
                    self._mem = pickle.load(fh)
            except Exception:  # a damaged cache is only a slower start
                self._mem = {}

    @property
    def path(self) -> Path:
        assert self.directory is not None
        versions = hashlib.sha1(self.versions.encode()).hexdigest()[:8]
        return self.directory / f"tokens-{self.analyzer.settings.key}-{versions}.pkl"

    def tokens(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[tuple[str, ...]]:
        out = []
        for i, text in enumerate(texts):
            k = _key(text)
            toks = self._mem.get(k)
            if toks is None:
                toks = tuple(self.analyzer(text))
                self._mem[k] = toks
                self.misses += 1
                self._dirty = True
            else:
                self.hits += 1
            out.append(toks)
            if progress is not None:
                progress(i + 1)
        return out

    def save(self) -> None:
        if self.directory is None or not self._dirty:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, pickle.dumps(self._mem, protocol=pickle.HIGHEST_PROTOCOL))
        self._dirty = False
