"""Learning word vectors from the raw corpus (``gikai-topics vectors build``, and the held-out evaluation's strict
vectors that leave the tested assembly out): the analysis in worker processes, word2vec (gensim), the metadata.
Reading and using vectors is :mod:`train.vectors`."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Sequence

import numpy as np

from .errors import ConfigError, InputError
from .text import AnalyzerSettings, JapaneseAnalyzer
from .vectors import VectorSettings, WordVectors

_ANALYZERS: dict[AnalyzerSettings, JapaneseAnalyzer] = {}


def _tokenize_chunk(settings: dict, texts: list[str]) -> list[list[str]]:
    """Runs in a worker (or here): one analyzer, and so one Sudachi dictionary load, per process."""
    key = AnalyzerSettings(**settings)
    analyzer = _ANALYZERS.get(key)
    if analyzer is None:
        analyzer = _ANALYZERS[key] = JapaneseAnalyzer(key)
    return [analyzer(t) for t in texts]


def tokenize_corpus(texts: Sequence[str], analyzer: AnalyzerSettings, *, workers: int = 1,
                    chunk: int = 4000) -> list[list[str]]:
    settings = dataclasses.asdict(analyzer)
    chunks = [list(texts[i:i + chunk]) for i in range(0, len(texts), chunk)]
    if workers <= 1 or len(chunks) <= 1:
        return [toks for c in chunks for toks in _tokenize_chunk(settings, c)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [toks for part in pool.map(_tokenize_chunk, [settings] * len(chunks), chunks) for toks in part]


def corpus_digest(texts: Iterable[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def train_vectors(sentences: Sequence[Sequence[str]], settings: VectorSettings) -> tuple[list[str], np.ndarray]:
    try:
        from gensim.models import Word2Vec
    except ImportError:  # pragma: no cover - gensim is a dependency; guard for stripped installs
        raise ConfigError("building word vectors needs gensim: pip install gensim") from None
    sentences = [list(s) for s in sentences if s]
    if not sentences:
        raise InputError("no tokens to learn word vectors from: the corpus selection is empty")
    try:
        model = Word2Vec(sentences=sentences, vector_size=settings.dim, window=settings.window,
                         min_count=settings.min_count, sg=1, epochs=settings.epochs, seed=settings.seed,
                         workers=settings.workers)
    except RuntimeError as exc:  # gensim: "you must first build vocabulary before training the model"
        if "vocabulary" not in str(exc):
            raise
        raise InputError(f"no word occurs {settings.min_count}+ times: lower --min-count or give more text") from None
    words = list(model.wv.index_to_key)
    if not words:
        raise InputError(f"no word occurs {settings.min_count}+ times: lower --min-count or give more text")
    return words, np.asarray(model.wv.vectors, dtype=np.float32)


def vectors_from_sentences(sentences: Sequence[Sequence[str]], analyzer: AnalyzerSettings,
                           settings: VectorSettings, **meta) -> WordVectors:
    """Train on analysed utterances (token lists made with ``analyzer``)."""
    t0 = time.perf_counter()
    words, vectors = train_vectors(sentences, settings)
    vectors = vectors.astype(np.float16).astype(np.float32)  # what the saved file will hold
    info = {
        "analyzer": dataclasses.asdict(analyzer),
        "analyzer_key": analyzer.key,
        "settings": dataclasses.asdict(settings),
        "utterances": len(sentences),
        "tokens": int(sum(map(len, sentences))),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    info.update(meta)
    return WordVectors(words, vectors, info)


def build_vectors(
    records: Iterable,
    analyzer: AnalyzerSettings = AnalyzerSettings(),
    settings: VectorSettings = VectorSettings(),
    *,
    exclude_assemblies: Iterable[str] = (),
    tokenize_workers: int = 1,
    progress: Callable[[str], None] | None = None,
) -> WordVectors:
    """Learn word vectors from corpus records (``train.corpus.Record``), leaving out some assemblies."""
    say = progress or (lambda _m: None)
    excluded = sorted(set(exclude_assemblies))
    records = list(records)
    present = {r.municipality or "" for r in records}
    unknown = [a for a in excluded if a not in present]
    if unknown:  # a typo would leave nothing out while the file's metadata said it did
        raise InputError(f"--exclude-assembly: no utterances of {', '.join(unknown)} in the corpus; its assemblies "
                         f"are {', '.join(sorted(a for a in present if a))}")
    texts = [r.text for r in records if (r.municipality or "") not in excluded]
    if not texts:
        raise InputError("no utterances left to learn word vectors from"
                         + (f" after leaving out {', '.join(excluded)}" if excluded else ""))
    say(f"analysing {len(texts):,} utterances")
    sentences = tokenize_corpus(texts, analyzer, workers=tokenize_workers)
    say(f"training word2vec on {sum(map(len, sentences)):,} tokens")
    return vectors_from_sentences(sentences, analyzer, settings, corpus_sha256=corpus_digest(texts),
                                  excluded_assemblies=excluded)
