"""Word vectors for leave-one-assembly-out that never saw the held-out assembly.

The configured vectors are learned from the whole unlabeled corpus, the
held-out assembly's text included.  Testing on an assembly "the model has never
seen" therefore re-learns them, with the same settings, from the corpus minus
that assembly.  Results are cached on disk (keyed by the corpus content, the
assembly left out, the settings and the analyzer), so only the first
evaluation pays for them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Sequence

from joblib import Parallel, delayed

from ..cache import default_cache_dir, sudachi_versions
from ..config import TrainConfig
from ..corpus import read_corpus
from ..errors import ConfigError
from ..paths import default_path
from ..vectors import VectorSettings, WordVectors, load_vectors
from ..vectors_build import corpus_digest, tokenize_corpus, vectors_from_sentences


def held_out_vectors(config: TrainConfig, assemblies: Sequence[str], corpus: Sequence[str] | None = None, *,
                     n_jobs: int = 1, cache_dir: Path | None = None,
                     progress: Callable[[str], None] | None = None) -> dict[str, WordVectors]:
    """``{assembly: vectors learned without it}`` with the settings of ``config.features.vectors``."""
    say = progress or (lambda _m: None)
    base = load_vectors(config.features.vectors)
    try:
        settings = VectorSettings(**base.meta["settings"])
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{config.features.vectors}: the vectors file does not record its training settings "
                          f"({exc}); rebuild it with `gikai-topics vectors build`") from None
    records = list(read_corpus(corpus or [default_path("seeds")]))
    texts = [r.text for r in records]
    where = [r.municipality or "" for r in records]
    present = set(where)
    missing = [a for a in assemblies if a not in present]
    if missing:
        raise ConfigError(f"strict held-out vectors: expected the corpus to contain {', '.join(missing)}, found "
                          f"only {', '.join(sorted(present))}; pass the corpus these labels come from, "
                          "or use --loao-vectors shared")
    cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
    digest = corpus_digest(texts)

    def path_for(name: str) -> Path | None:
        if cache_dir is None:
            return None
        # the Sudachi versions too: the analyzer key does not change when the dictionary is upgraded
        key = json.dumps([digest, name, base.meta["settings"], config.analyzer.key,
                          sudachi_versions(config.analyzer.dictionary)], ensure_ascii=False)
        return cache_dir / f"vectors-heldout-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"

    out: dict[str, WordVectors] = {}
    todo = []
    for name in assemblies:
        p = path_for(name)
        if p is not None and p.is_file():
            try:
                out[name] = load_vectors(p)
                continue
            except ConfigError:  # a damaged cache entry is rebuilt
                pass
        todo.append(name)
    if todo:
        say(f"learning word vectors without {', '.join(todo)} (cached for next time)")
        sentences = tokenize_corpus(texts, config.analyzer, workers=max(1, n_jobs))
        built = Parallel(n_jobs=n_jobs)(
            delayed(vectors_from_sentences)([s for s, a in zip(sentences, where) if a != name], config.analyzer,
                                            settings, excluded_assemblies=[name],
                                            corpus_sha256=corpus_digest(t for t, a in zip(texts, where) if a != name))
            for name in todo)
        for name, wv in zip(todo, built):
            p = path_for(name)
            if p is not None:
                wv.save(p)
                wv = load_vectors(p)  # same numbers, and now with the file's digest
            out[name] = wv
    return out
