"""Choosing what is labeled next.

``gikai-topics labels pool`` writes a pool of unlabeled utterances for ``labels batch``.  With a
model, the pool is ordered by **uncertainty per topic**: for each requested topic in turn, the
utterance whose score is closest to that topic's threshold (on the logit scale) and not yet taken.
This spreads the reading over the topics the model is weakest on instead of letting one topic's
borderline cases fill the pool.  The model only chooses *what* is read: readers see the text alone
(``labels batch`` writes no scores) and decide every label against the guidelines.

Every pool line records how it was chosen in a ``selection`` field, which ``labels batch`` and
``labels merge`` carry into the label records, so that a later evaluation can tell model-chosen
labels from random ones.

The terminal session (``gikai-topics label``, :mod:`.session`) draws its queue here too: the same
sample of unlabeled utterances (:func:`build_pool`), scored (:func:`score_items`) and ordered nearest
a threshold first or at random (:func:`order_items`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from pathlib import Path
from typing import IO, Sequence

import numpy as np

from ..atomic import atomic_write_text
from ..corpus import Record, _open_lines
from ..errors import InputError, LabelError, ModelError
from ..taxonomy import Taxonomy
from .labeled import check_labels_path, labeled_keys
from .store import MODEL_CHOSEN_PREFIX


STRATEGIES = ("uncertainty", "random")
SCORE_BATCH = 256


def say(out: IO[str], text: str = "") -> None:
    """A line to ``out``, flushed at once, so that it shows before the slow step it announces (also
    the terminal session's output)."""
    out.write(text + "\n")
    out.flush()


# --------------------------------------------------------------------------- the candidates (also `label`'s queue)

def load_tagger(model, taxonomy: Taxonomy, out: IO[str], strategy: str | None = None):
    """A Tagger, or None: ``model`` None tries the default store model, "none" disables suggestions.  An empty
    store falls back to no model, and says so, unless ``strategy`` is "uncertainty", which
    :func:`check_model_for` then refuses (announcing a random order just before that error contradicted it)."""
    from ..inference import Tagger, load_model

    if isinstance(model, Tagger) or (model is not None and str(model).lower() == "none"):
        tagger = None if not isinstance(model, Tagger) else model
    else:
        try:
            tagger = load_model(model)
        except ModelError:
            if model is not None:
                raise
            if strategy == "uncertainty":
                return None
            say(out, "no model in the BentoML store (pass --model TAG|DIR for suggestions): "
                     "random order, no suggestions")
            tagger = None
    if tagger is not None:
        unknown = [t for t in tagger.topic_ids if t not in taxonomy.ids]
        if unknown:
            raise LabelError(f"model {tagger.tag_name}: topic id(s) {unknown} are not in {taxonomy.path}; "
                             "retrain the model on the current taxonomy or pass --model none")
    return tagger


def check_strategy(strategy: str) -> None:
    """``--strategy`` of ``label`` and ``labels pool``: one check, one message."""
    if strategy not in STRATEGIES:
        raise InputError(f"--strategy: expected one of {list(STRATEGIES)}, found {strategy!r}")


def check_model_for(strategy: str | None, tagger) -> None:
    """The uncertainty order is the model's: refused without one (rather than falling back to random)."""
    if strategy == "uncertainty" and tagger is None:
        raise InputError("--strategy uncertainty needs a model: pass --model TAG|DIR (or train one with "
                         "`gikai-topics train`), or use --strategy random")


@dataclasses.dataclass
class Item:
    record: Record
    scores: dict[str, float] | None = None

    def suggestions(self, thresholds: dict[str, float]) -> dict[str, float]:
        """Topics at or over their threshold, best first."""
        if not self.scores:
            return {}
        over = [(t, s) for t, s in self.scores.items() if s >= thresholds[t]]
        return {t: round(s, 4) for t, s in sorted(over, key=lambda ts: -ts[1])}

    def margin(self, thresholds: dict[str, float]) -> float:
        """How close the model is to changing its mind: min over topics of |score - threshold|."""
        return min(abs(s - thresholds[t]) for t, s in self.scores.items())

    def nearest_topic(self, thresholds: dict[str, float]) -> str:
        """The topic whose threshold gives :meth:`margin` (the first in model order on a tie)."""
        return min(self.scores, key=lambda t: abs(self.scores[t] - thresholds[t]))


def build_pool(paths: Sequence[Path], exclude: tuple[set[str], set[str]], *, assembly: str | None,
               max_pool: int, seed: int, min_len: int = 0, max_len: int | None = None) -> list[Record]:
    """Up to ``max_pool`` unlabeled records of ``min_len``-``max_len`` characters, one per near-duplicate group,
    sampled uniformly."""
    from ..corpus_tools import SampleFilter, sample

    if not paths:
        raise InputError("--pool: expected at least one corpus file or folder, found none")
    if max_pool <= 0:
        raise InputError(f"--max-pool: expected a positive number, found {max_pool}")
    ex_ids, ex_groups = exclude
    # labeled records may take reservoir places: oversample by their number, then drop them
    records = sample(paths, max_pool + len(ex_ids), seed=seed,
                     where=SampleFilter(assembly=assembly, min_len=min_len, max_len=max_len))
    fresh = [r for r in records if r.id not in ex_ids and r.group not in ex_groups]
    if len(fresh) > max_pool:
        fresh = sorted(sorted(fresh, key=lambda r: _shuffle_key(seed, r.id))[:max_pool], key=lambda r: r.id)
    return fresh


def _shuffle_key(seed: int, rid: str) -> str:
    """A seeded pseudo-random rank that does not depend on the rest of the pool, so a resumed
    session keeps the order of the one before."""
    return hashlib.sha1(f"{seed}:{rid}".encode("utf-8")).hexdigest()


def score_items(records: list[Record], tagger, out: IO[str] | None = None) -> list[Item]:
    """Score records in batches of :data:`SCORE_BATCH`."""
    items = []
    for start in range(0, len(records), SCORE_BATCH):
        if out is not None and len(records) > SCORE_BATCH:
            say(out, f"scoring {start:,}/{len(records):,} …")
        batch = records[start:start + SCORE_BATCH]
        probs = tagger.scores([r.text for r in batch])
        for rec, row in zip(batch, probs):
            items.append(Item(rec, {t: float(p) for t, p in zip(tagger.topic_ids, row)}))
    return items


def order_items(items: list[Item], strategy: str, *, thresholds: dict[str, float], seed: int) -> list[Item]:
    """``uncertainty``: nearest a threshold first; ``random``: seeded shuffle. One item per group."""
    if strategy == "uncertainty":
        items = sorted(items, key=lambda it: (it.margin(thresholds), it.record.id))
    else:
        items = sorted(items, key=lambda it: _shuffle_key(seed, it.record.id))
    seen: set[str] = set()
    out = []
    for it in items:
        if it.record.group not in seen:
            seen.add(it.record.group)
            out.append(it)
    return out


# --------------------------------------------------------------------------- labels pool

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
        check_strategy(self.strategy)
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


def logit(p) -> np.ndarray:
    """log(p / (1 - p)), with ``p`` clipped to [1e-6, 1 - 1e-6]: the scale distances to a threshold are measured
    on (here and in :mod:`.suspects`)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def uncertain_per_topic(scores: np.ndarray, thresholds: np.ndarray, topic_index: Sequence[int], size: int,
                        tie_keys: Sequence[str]) -> list[tuple[int, int]]:
    """Round-robin over ``topic_index``: each turn takes the row nearest that topic's threshold
    (logit distance) that no earlier turn took.  Returns ``(row, topic)`` pairs, at most ``size``."""
    distance = np.abs(logit(scores) - logit(thresholds)[None, :])
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
    tagger = load_tagger(model, taxonomy, out, spec.strategy) if spec.strategy == "uncertainty" else None
    check_model_for(spec.strategy, tagger)
    topics = spec.check_topics(tagger.topic_ids) if tagger is not None else ()
    exclude = labeled_keys([labels_dir])
    # the length bounds go into the sampling: --max-pool counts candidates of the right length
    records = build_pool(list(paths), exclude, assembly=spec.assembly, max_pool=spec.max_pool, seed=spec.seed,
                         min_len=spec.min_chars, max_len=spec.max_chars)
    say(out, f"{len(records):,} unlabeled candidate(s) of {spec.min_chars}-{spec.max_chars} characters "
           f"({len(exclude[0]):,} labeled utterances excluded)")
    if spec.strategy == "random":
        records = sorted(records, key=lambda r: _shuffle_key(spec.seed, r.id))[:spec.size]
        return [(r, "random") for r in records]
    say(out, f"scoring with {tagger.tag_name} …")
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
