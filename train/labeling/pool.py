"""Choosing what a team labels next.

``gikai-topics labels pool`` writes a pool of unlabeled utterances for ``labels batch``.  With a
model, the pool is ordered by **uncertainty per topic**: for each requested topic in turn, the
utterance whose score is closest to that topic's threshold (on the logit scale) and not yet taken.
This spreads the reading over the topics the model is weakest on instead of letting one topic's
borderline cases fill the pool.  The model only chooses *what* is read: readers see the text alone
(``labels batch`` writes no scores) and decide every label against the guidelines.

Every pool line records how it was chosen in a ``selection`` field, which ``labels batch`` and
``labels merge`` carry into the label records, so that a later evaluation can tell model-chosen
labels from random ones.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import IO, Sequence

import numpy as np

from ..atomic import atomic_write_text
from ..corpus import Record, _open_lines
from ..errors import InputError
from ..taxonomy import Taxonomy
from .store import MODEL_CHOSEN_PREFIX
from .session import _load_tagger, _say, _shuffle_key, build_pool, check_labels_path, labeled_keys


STRATEGIES = ("uncertainty", "random")


@dataclasses.dataclass(frozen=True)
class PoolSpec:
    """What to choose.  Validates itself; messages say what was expected and what was found."""

    size: int = 1000
    strategy: str = "uncertainty"
    topics: tuple[str, ...] = ()  #: uncertainty over these topics (empty: all of the model's)
    assembly: str | None = None
    min_chars: int = 60
    max_chars: int = 3000
    max_pool: int = 20000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InputError(f"--strategy: expected one of {list(STRATEGIES)}, found {self.strategy!r}")
        for name in ("size", "max_pool"):
            if getattr(self, name) <= 0:
                raise InputError(f"--{name.replace('_', '-')}: expected a positive number, found {getattr(self, name)}")
        if self.strategy == "random" and self.topics:  # a random draw has no topics to share out: said, not dropped
            raise InputError(f"--topics: the random strategy draws utterances at random, whatever their topics; "
                             f"expected no --topics with --strategy random, found {','.join(self.topics)}; use "
                             "--strategy uncertainty (with a model) to spread the reading over topics")
        if not 0 <= self.min_chars <= self.max_chars:
            raise InputError(f"--min-chars/--max-chars: expected 0 <= min <= max, found {self.min_chars} and "
                             f"{self.max_chars}")

    def check_topics(self, known: Sequence[str]) -> tuple[str, ...]:
        unknown = [t for t in self.topics if t not in known]
        if unknown:
            raise InputError(f"--topics: expected topic ids from {list(known)}, found unknown {unknown}")
        return self.topics or tuple(known)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def uncertain_per_topic(scores: np.ndarray, thresholds: np.ndarray, topic_index: Sequence[int], size: int,
                        tie_keys: Sequence[str]) -> list[tuple[int, int]]:
    """Round-robin over ``topic_index``: each turn takes the row nearest that topic's threshold
    (logit distance) that no earlier turn took.  Returns ``(row, topic)`` pairs, at most ``size``."""
    distance = np.abs(_logit(scores) - _logit(np.asarray(thresholds))[None, :])
    orders = {j: sorted(range(len(scores)), key=lambda i: (distance[i, j], tie_keys[i])) for j in topic_index}
    cursor = {j: 0 for j in topic_index}
    taken: set[int] = set()
    out: list[tuple[int, int]] = []
    while len(out) < min(size, len(scores)):
        for j in topic_index:
            order = orders[j]
            while cursor[j] < len(order) and order[cursor[j]] in taken:
                cursor[j] += 1
            if cursor[j] < len(order) and len(out) < size:
                taken.add(order[cursor[j]])
                out.append((order[cursor[j]], j))
    return out


def select_pool(paths: Sequence[Path], spec: PoolSpec, *, taxonomy: Taxonomy, labels_dir: Path | None,
                model=None, out: IO[str] | None = None) -> list[tuple[Record, str]]:
    """Unlabeled records chosen by ``spec``, each with its ``selection`` note (progress lines go to ``out``)."""
    out = out if out is not None else io.StringIO()
    check_labels_path(labels_dir)
    if spec.strategy == "random" and model is not None and str(model).lower() != "none":
        raise InputError(f"--model {model}: the random strategy uses no model; expected --strategy uncertainty to "
                         "choose by the model's scores, or no --model for a random draw")
    tagger = _load_tagger(model, taxonomy, out) if spec.strategy == "uncertainty" else None
    if spec.strategy == "uncertainty" and tagger is None:
        raise InputError("--strategy uncertainty needs a model: pass --model TAG|DIR (or train one with "
                         "`gikai-topics train`), or use --strategy random")
    topics = spec.check_topics(tagger.topic_ids) if tagger is not None else ()
    exclude = labeled_keys([labels_dir])
    # the length bounds go into the sampling: --max-pool counts candidates of the right length
    records = build_pool(list(paths), exclude, assembly=spec.assembly, max_pool=spec.max_pool, seed=spec.seed,
                         min_len=spec.min_chars, max_len=spec.max_chars)
    _say(out, f"{len(records):,} unlabeled candidate(s) of {spec.min_chars}-{spec.max_chars} characters "
            f"({len(exclude[0]):,} labeled utterances excluded)")
    if spec.strategy == "random":
        records = sorted(records, key=lambda r: _shuffle_key(spec.seed, r.id))[:spec.size]
        return [(r, "random") for r in records]
    _say(out, f"scoring with {tagger.tag_name} …")
    scores = tagger.scores([r.text for r in records]) if records else np.zeros((0, len(tagger.topic_ids)))
    thresholds = np.array([tagger.thresholds[t] for t in tagger.topic_ids])
    picks = uncertain_per_topic(scores, thresholds, [tagger.topic_ids.index(t) for t in topics], spec.size,
                                [_shuffle_key(spec.seed, r.id) for r in records])
    return [(records[i], f"{MODEL_CHOSEN_PREFIX}{tagger.topic_ids[j]} ({tagger.tag_name})") for i, j in picks]


def write_pool(selected: list[tuple[Record, str]], path: Path) -> None:
    """The pool as JSONL (corpus fields + ``selection``), written atomically."""
    if not selected:
        raise InputError("nothing to write: no unlabeled utterance matches (check --pool, --assembly and the "
                         "length limits)")
    atomic_write_text(path, "".join(json.dumps({**r.to_dict(), "selection": s}, ensure_ascii=False) + "\n"
                                    for r, s in selected))


def read_selection(pool: Path) -> dict[str, str]:
    """``id -> selection`` of a pool file's lines that have one (JSONL or JSONL.gz; lines are checked by the
    corpus reader, which ``labels batch`` runs first)."""
    out = {}
    for lineno, raw in _open_lines(pool):
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InputError(f"{pool}:{lineno}: invalid UTF-8 at byte {exc.start}; expected a UTF-8 pool "
                             "(JSONL, or JSONL.gz named *.gz)") from None
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict) and isinstance(obj.get("selection"), str) and "id" in obj:
            out[str(obj["id"])] = obj["selection"]
    return out
