"""Choosing which labels already made are read again: those a model that never saw them disagrees with most.

``gikai-topics labels suspects`` scores every label out of fold: the labels, in id order, are cut into K folds
with near-duplicate groups kept whole (:func:`train.folds.stratified_group_folds`, as ``evaluate`` cuts them), and
each fold is scored by a model fitted once, with the real recipe (:meth:`train.model.TopicClassifier.fit_once`:
the configured features and word vectors, the classifier), on the other folds.  Each topic's threshold is then
chosen on the pooled out-of-fold scores (:func:`train.fitting.tuned_thresholds`, the config's rule and bounds), and a label
disagrees with the model on a topic where the decision at that threshold differs from the label.  The strength of
a disagreement is the distance of the score from the threshold on the logit scale, ``|logit(p) - logit(t)|``; a
label's suspicion is its strongest disagreement (confident learning's margin ranking, on our own tuned thresholds).

The model only orders the reading.  The readers' file holds the text and the label's current topics, never the
model's scores nor which topics it doubts: a reader re-reads the utterance against the guidelines and decides every
topic (``labels revise``); a reader shown the model's view would be anchored by it.  The model's view goes to a
separate file, for the maintainer's analysis afterwards.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..cache import TokenCache, default_cache_dir
from ..config import TrainConfig
from ..errors import InputError
from .exclude import excluded_ids
from .pool import logit
from .store import Example, LabelSet, label_matrix, label_set_folder

#: the fields of a line of the readers' file, in order
READER_FIELDS = ("id", "municipality", "date", "speaker", "current_topics", "text")


def reader_line(ex: Example, **extra) -> dict:
    """A line of a readers' file (``labels suspects``, ``labels select``): the label's utterance and current topics,
    with ``extra`` fields before the text."""
    return {"id": ex.id, "municipality": ex.municipality, "date": ex.date, "speaker": ex.speaker,
            "current_topics": list(ex.topics), **extra, "text": ex.text}


def jsonl_text(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def next_step(out: Path, first: str = "") -> str:
    """The summary's last line: what the readers do with a readers' file, and how their answers go back."""
    return (f"next: readers re-read each utterance of {out} against labels/GUIDELINES.md{first} and decide its "
            "topics; then gikai-topics labels revise ANSWERS.tsv --reviewer READER --reason \"...\" "
            "(id<TAB>topics<TAB>why lines, '-' for none)")


@dataclasses.dataclass(frozen=True)
class Disagreement:
    """The model's out-of-fold decision on one topic differs from the label's."""

    topic: str
    label: bool  #: the label has the topic (and the model scores it under the threshold); False: the other way
    score: float  #: the out-of-fold probability
    threshold: float
    strength: float  #: |logit(score) - logit(threshold)|

    @property
    def by_model(self) -> str:
        """What the model would do to the label: ``removed`` (the label has the topic) or ``added``."""
        return "removed" if self.label else "added"


@dataclasses.dataclass(frozen=True)
class Suspect:
    """A label the model disagrees with: its suspicion (strongest disagreement) and every disagreement, strongest
    first."""

    example: Example
    suspicion: float
    disagreements: tuple[Disagreement, ...]

    def for_reader(self) -> dict:
        """The readers' line: the utterance and its current topics; nothing of the model's view."""
        return reader_line(self.example)

    def model_view(self) -> dict:
        return {"id": self.example.id, "suspicion": round(self.suspicion, 4),
                "disagreements": [{"topic": d.topic, "label": d.label, "score": round(d.score, 4),
                                   "threshold": round(d.threshold, 4)} for d in self.disagreements]}


@dataclasses.dataclass
class SuspectRun:
    """What :func:`find_suspects` found: the suspects (strongest first) and what the summary says of the run."""

    suspects: list[Suspect]
    scored: int  #: labels scored out of fold (all of them)
    folds: int
    topics: tuple[str, ...]  #: the topics whose disagreements count
    thresholds: dict[str, float]  #: chosen on the pooled out-of-fold scores
    oof_macro_f1: float | None  #: of the pooled out-of-fold decisions at those thresholds, every label and topic
    eligible: int  #: labels that may be suspects (adjudicated ones left out unless asked for, --exclude's left out)
    disagreeing: int  #: of those, labels the model disagrees with on at least one counted topic
    adjudicated_left_out: int
    excluded_left_out: int = 0  #: labels left out because an --exclude file lists them (read again already)

    def topic_counts(self) -> dict[str, tuple[int, int]]:
        """Per topic (counted topics' order), disagreements among the suspects: (added by the model, removed by
        the model); topics without any left out."""
        seen = Counter((d.topic, d.label) for s in self.suspects for d in s.disagreements)
        return {t: (seen[t, False], seen[t, True]) for t in self.topics if seen[t, False] or seen[t, True]}


def check_topics(topics: str | Sequence[str] | None, known: Sequence[str]) -> tuple[str, ...]:
    """``--topics``: ids of the taxonomy, a sequence or one comma-separated string (None or empty: all of them);
    returned in taxonomy order."""
    if isinstance(topics, str):
        topics = [t.strip() for t in topics.split(",") if t.strip()]
    if not topics:
        return tuple(known)
    unknown = [t for t in topics if t not in known]
    if unknown:
        raise InputError(f"--topics: expected topic ids of the taxonomy ({', '.join(known)}), found unknown "
                         f"{unknown}; fix the id(s) or leave --topics out for every topic")
    return tuple(t for t in known if t in topics)


def _check_counts(size: int, folds: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InputError(f"--size: expected how many labels to write, a whole number >= 1, found {size!r}")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise InputError(f"--folds: expected a whole number >= 2 (each label is scored by a model fitted on the "
                         f"other folds), found {folds!r}")


def out_of_fold_scores(tokens, texts, Y: np.ndarray, splits, config: TrainConfig, topic_ids: list[str], vectors, *,
                       workers: int, say: Callable[[str], None]) -> np.ndarray:
    """Each fold's test rows scored by a model fitted once on its training rows; ``workers`` folds side by side
    (:func:`train.fitting.parallel_fits` without the final fit)."""
    from ..fitting import parallel_fits
    from ..model import TopicClassifier

    finished = []

    def done(k: int, seconds: float) -> None:
        finished.append(k)
        say(f"fold {k} fitted and scored ({seconds:.0f}s); {len(finished)}/{len(splits)} done")

    oof = np.zeros(Y.shape, dtype=np.float64)
    _, runs = parallel_fits(TopicClassifier(config, topic_ids), tokens, texts, Y, vectors, splits, workers,
                            final=False, done=done)
    for (_, te), probs in zip(splits, runs):
        oof[te] = probs
    return oof


def find_suspects(labels: LabelSet, config: TrainConfig, *, folds: int = 5, jobs: int = 1, size: int = 300,
                  topics: str | Sequence[str] | None = None, include_adjudicated: bool = False, seed: int = 0,
                  exclude: Sequence[Path] = (), progress: Callable[[str], None] | None = None,
                  cache: TokenCache | None = None) -> SuspectRun:
    """The ``size`` labels a cross-validated model disagrees with most, strongest first (see the module's notes).

    ``topics``: only disagreements on these topic ids count (a sequence, or ``"a,b"``; default: every topic).
    ``include_adjudicated``: labels already decided again (an ``adjudicated`` note: a majority of three, a
    reviewer) may be suspects too; by default they are scored, and train the other folds, but are not listed.
    ``exclude``: reading files or folders (:func:`train.labeling.exclude.excluded_ids`) whose labels were read
    again already: scored and training the other folds like the adjudicated ones, never listed.  ``seed`` draws the
    folds; the same labels, config and seed give the same suspects, whatever the label files' order.  ``jobs``:
    folds fitted side by side in that many processes (-1: one per core)."""
    from ..evaluation.metrics import compute
    from ..fitting import configured_vectors, tuned_thresholds, workers_for
    from ..folds import stratified_group_folds
    from ..text import JapaneseAnalyzer

    say = progress or (lambda _m: None)
    _check_counts(size, folds)
    workers = min(workers_for(jobs), folds)
    labels = labels.in_id_order()
    ids = labels.taxonomy.ids
    counted = check_topics(topics, ids)
    examples = labels.examples
    groups = [ex.group for ex in examples]
    if len(set(groups)) < folds:
        raise InputError(f"--folds {folds}: expected at least as many distinct labeled utterances as folds "
                         f"(near-duplicates count once), found {len(set(groups))} among {len(examples):,} labels; "
                         "use fewer --folds or label more utterances")
    excluded = excluded_ids(exclude, {ex.id for ex in examples}) if exclude else set()
    decided = np.array([not include_adjudicated and ex.adjudicated is not None for ex in examples], dtype=bool)
    read = np.array([ex.id in excluded for ex in examples], dtype=bool) & ~decided
    eligible = ~decided & ~read
    if not eligible.any():
        raise InputError(f"expected labels read once to review, found all {len(examples):,} decided again already "
                         "(an 'adjudicated' note) or listed by --exclude; pass --include-adjudicated or fewer "
                         "--exclude files to review them anyway")
    vectors = configured_vectors(config)  # a bad vectors setting is refused before the analysis

    texts = [ex.text for ex in examples]
    Y = label_matrix(examples, ids)
    say(f"analysing {len(texts):,} utterances (cached)")
    cache = cache or TokenCache(JapaneseAnalyzer(config.analyzer), default_cache_dir())
    tokens = cache.tokens(texts)
    cache.save()
    splits = stratified_group_folds(Y, groups, folds, seed=seed)
    for tr, te in splits:  # the guarantee the module states
        assert not ({groups[i] for i in tr} & {groups[i] for i in te}), "a near-duplicate group straddles a fold"
    say(f"fitting {folds} folds, one model each ({workers} process{'es' if workers > 1 else ''})")
    oof = out_of_fold_scores(tokens, texts, Y, splits, config, ids, vectors, workers=workers, say=say)

    tc = config.thresholds
    thresholds = tuned_thresholds(Y, oof, tc)
    pred = oof >= thresholds
    macro = compute(Y, pred, None, ids)["overall"]["macro_f1"]
    cols = [ids.index(t) for t in counted]
    disagree = (pred != Y.astype(bool))[:, cols]
    strength = np.abs(logit(oof[:, cols]) - logit(thresholds[cols])[None, :])
    rows = np.flatnonzero(disagree.any(axis=1) & eligible)
    suspicion = np.where(disagree, strength, -np.inf).max(axis=1)
    rows = sorted(rows, key=lambda i: (-suspicion[i], examples[i].id))
    suspects = []
    for i in rows[:size]:
        found = sorted((Disagreement(counted[c], bool(Y[i, j]), float(oof[i, j]), float(thresholds[j]),
                                     float(strength[i, c])) for c, j in enumerate(cols) if disagree[i, c]),
                       key=lambda d: -d.strength)
        suspects.append(Suspect(examples[i], float(suspicion[i]), tuple(found)))
    return SuspectRun(suspects=suspects, scored=len(examples), folds=folds, topics=counted,
                      thresholds={t: float(x) for t, x in zip(ids, thresholds)}, oof_macro_f1=macro,
                      eligible=int(eligible.sum()), disagreeing=len(rows),
                      adjudicated_left_out=int(decided.sum()), excluded_left_out=int(read.sum()))


# --------------------------------------------------------------------------- the files and the summary

def check_outputs(out: Path, model_view: Path | None, labels_path: Path, exclude: Sequence[Path] = ()) -> None:
    """Refuse, before any work, outputs that cannot be written, that are the same file, or that lie among the
    labels (``labels/`` would read a suspects file back as labels), the taxonomy, or among the ``--exclude`` files
    (a run again would read its own list as labels read already)."""
    from ..atomic import check_writable

    from ..taxonomy import default_taxonomy_path

    # the taxonomy too: read with the labels, and not always inside --labels' folder
    inputs = [p for p in (labels_path, label_set_folder(labels_path), default_taxonomy_path(), *map(Path, exclude))
              if p is not None]
    check_writable(out, "--out", inputs=inputs)
    if model_view is not None:
        if os.path.realpath(model_view) == os.path.realpath(out):
            raise InputError(f"--model-view {model_view}: is also --out; expected two different files (the model's "
                             "view is kept apart from what the readers see)")
        check_writable(model_view, "--model-view", inputs=inputs)


def write_suspects(run: SuspectRun, out: Path, model_view: Path | None = None) -> None:
    """The readers' JSONL (and the model's view): both written, or neither."""
    from ..atomic import atomic_write_all

    files = [(out, jsonl_text(s.for_reader() for s in run.suspects))]
    if model_view is not None:
        files.append((model_view, jsonl_text(s.model_view() for s in run.suspects)))
    atomic_write_all(files)


def summary(run: SuspectRun, out: Path, model_view: Path | None = None) -> list[str]:
    """What ``labels suspects`` says when it has written its files."""
    macro = "–" if run.oof_macro_f1 is None else f"{run.oof_macro_f1:.3f}"
    only = "" if len(run.topics) == len(run.thresholds) else f" (counting {', '.join(run.topics)} only)"
    left = (f" ({run.adjudicated_left_out:,} decided again already, with an 'adjudicated' note, left out: "
            "--include-adjudicated lists them too)" if run.adjudicated_left_out else "")
    left += (f" ({run.excluded_left_out:,} read again already, listed by --exclude, left out)"
             if run.excluded_left_out else "")
    per_topic = ", ".join(f"{t} +{a} -{r}" for t, (a, r) in run.topic_counts().items()) or "none"
    lines = [f"{run.scored:,} labels scored out of fold ({run.folds} folds, near-duplicates kept together); "
             f"pooled out-of-fold macro-F1 {macro} at thresholds chosen on those scores",
             f"{run.disagreeing:,} of {run.eligible:,} labels disagree with the model on at least one topic{only}"
             + left,
             f"wrote {len(run.suspects):,} suspect(s), strongest first, to {out} (text and current topics only)"
             + (f"; the model's view to {model_view}" if model_view is not None else ""),
             f"disagreements among them per topic (+ the model would add it, - remove it): {per_topic}"]
    if run.suspects:
        lines.append(next_step(out))
    return lines
