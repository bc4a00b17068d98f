"""Threshold rules on held-out councils (docs/MODEL.md, twenty-first session).

``python -m bench.diagnostics.threshold_rules --save DIR`` runs evaluate's held-out fit for every assembly (the
other assemblies' labels, strict word vectors) and keeps, beside the held-out scores, the two sets of
out-of-fold scores a threshold can be tuned on: the recipe's threshold folds (stratified, group-kept) and
folds of one training assembly each (what a council the model has not seen looks like to it).  The word
vectors of the second kind saw every training assembly's text (unlabelled): a small leak in its favour.
Takes about 25 minutes on 2 cores.  ``--load DIR`` reads the saved arrays again and only compares rules.

Prints, per rule, the held-out macro-F1 of each assembly, their mean and the pooled figure:

* ``best cut``: the recipe until the twenty-first session (:func:`train.fitting.best_thresholds` on the threshold
  folds);
* ``bootstrap median``: the median of the best cut over resamples of the out-of-fold rows;
* ``smoothed F1``: the threshold maximising F1 averaged over a +/-0.05 window (:func:`train.fitting.smoothed_thresholds`,
  the recipe since);
* ``assembly folds``: the best cut on the one-assembly-out scores; ``blend``: the mean of the two;
* ``oracle``: the best cut on the held-out labels themselves (a ceiling, not a rule);

then, on each held-out fit's training side, how far the best cut's and the smoothed rule's thresholds move under
resampling and what F1 they give within the councils seen.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from train.evaluation import metrics
from train.evaluation.cv import EvalOptions
from train.evaluation.heldout_vectors import held_out_vectors
from train.config import ThresholdConfig
from train.fitting import parallel_fits, tuned_thresholds
from train.model import TopicClassifier

#: the two rules, with the embedded config's bounds and window (the ones every fit here used)
SMOOTHED = ThresholdConfig()
BEST_CUT = ThresholdConfig(rule="best_cut")


def _resampled(tc: ThresholdConfig, Y, P, rounds: int, seed: int = 0) -> np.ndarray:
    """``tc``'s thresholds on ``rounds`` resamples (with replacement) of the out-of-fold rows, one row each."""
    rng = np.random.default_rng(seed)
    draws = (rng.integers(0, len(Y), len(Y)) for _ in range(rounds))
    return np.vstack([tuned_thresholds(Y[i], P[i], tc) for i in draws])


def bootstrap_median(Y, P, rounds: int = 100) -> np.ndarray:
    return np.median(_resampled(BEST_CUT, Y, P, rounds), axis=0)


def fit_and_save(out: Path) -> None:
    from . import held_out_data

    import train.model as model_module

    data = held_out_data(EvalOptions())
    config, tokens, cache = data.config, data.tokens, data.cache
    ids, texts, groups, Y = data.inputs.ids, data.inputs.texts, data.inputs.groups, data.inputs.Y
    assemblies = np.asarray(data.inputs.assemblies)
    out.mkdir(parents=True, exist_ok=True)
    for name, (tr, te) in sorted(data.splits.items()):
        vectors = held_out_vectors(config, [name])[name]
        seen = {}
        original = model_module.tuned_thresholds

        def keep(Yin, P, tc):  # the recipe's out-of-fold scores, as fit tunes on them
            seen["P"] = P.copy()
            return original(Yin, P, tc)

        model_module.tuned_thresholds = keep
        try:
            m = TopicClassifier(config, ids).fit([tokens[i] for i in tr], Y[tr], texts=[texts[i] for i in tr],
                                                 groups=[groups[i] for i in tr], vectors=vectors, n_jobs=2)
        finally:
            model_module.tuned_thresholds = original
        S = m.scores(m.transform([tokens[i] for i in te], [texts[i] for i in te]))
        inner = assemblies[tr]
        folds = [(np.flatnonzero(inner != b), np.flatnonzero(inner == b)) for b in sorted(set(inner))]
        _, runs = parallel_fits(m, [tokens[i] for i in tr], [texts[i] for i in tr], Y[tr], vectors, folds, 2,
                                final=False)
        A = np.zeros(Y[tr].shape)
        for (_, fte), probs in zip(folds, runs):
            A[fte] = probs
        np.savez_compressed(out / f"{name}.npz", Y_train=Y[tr], oof=seen["P"], assembly_oof=A, Y_test=Y[te],
                            S_test=S, thresholds=m.thresholds, topics=np.asarray(ids))
        print(f"{name}: saved ({len(tr):,} training, {len(te):,} scored)", flush=True)
    cache.save()


def compare(directory: Path) -> None:
    files = sorted(directory.glob("*.npz"))
    if not files:
        raise SystemExit(f"{directory}: expected the .npz files --save writes, found none")
    rules = {
        "best cut": lambda d: tuned_thresholds(d["Y_train"], d["oof"], BEST_CUT),
        "bootstrap median": lambda d: bootstrap_median(d["Y_train"], d["oof"]),
        "smoothed F1": lambda d: tuned_thresholds(d["Y_train"], d["oof"], SMOOTHED),
        "assembly folds": lambda d: tuned_thresholds(d["Y_train"], d["assembly_oof"], BEST_CUT),
        "blend": lambda d: (tuned_thresholds(d["Y_train"], d["oof"], BEST_CUT)
                            + tuned_thresholds(d["Y_train"], d["assembly_oof"], BEST_CUT)) / 2,
        "oracle": lambda d: tuned_thresholds(d["Y_test"], d["S_test"], BEST_CUT),
    }
    data = {f.stem: dict(np.load(f)) for f in files}
    topics = [str(t) for t in next(iter(data.values()))["topics"]]
    names = list(data)
    print("| rule | " + " | ".join(names) + " | mean | pooled |")
    print("|---" * (len(names) + 3) + "|")
    for rule, fn in rules.items():
        preds, cells = [], []
        for n in names:
            d = data[n]
            pred = d["S_test"] >= fn(d)
            preds.append(pred)
            cells.append(metrics.compute(d["Y_test"], pred, None, topics)["overall"]["macro_f1"])
        pooled = metrics.compute(np.vstack([data[n]["Y_test"] for n in names]), np.vstack(preds), None,
                                 topics)["overall"]["macro_f1"]
        print(f"| {rule} | " + " | ".join(f"{c:.3f}" for c in cells) + f" | {np.mean(cells):.3f} | {pooled:.3f} |")
    steadiness(data, topics)


def steadiness(data: dict, topics: list[str]) -> None:
    """How far each rule's thresholds move when the training labels are resampled (12 resamples of the
    out-of-fold rows; standard deviation per topic, averaged over the topics), and the macro-F1 each rule's
    thresholds give on the other half of the training councils' out-of-fold rows when tuned on one half (10 random
    halves): the same scores, so only the rule differs."""
    rules = {"best cut": BEST_CUT, "smoothed F1": SMOOTHED}
    print("\n| training side of | " + " | ".join(f"{r}: threshold sd | {r}: half-split F1" for r in rules) + " |")
    print("|---" * (2 * len(rules) + 1) + "|")
    for name, d in data.items():
        Y, P = d["Y_train"], d["oof"]
        cells = []
        for tc in rules.values():
            sd = float(_resampled(tc, Y, P, 12).std(axis=0).mean())
            rng, f1 = np.random.default_rng(1), []
            for _ in range(10):
                half = rng.random(len(Y)) < 0.5
                pred = P[~half] >= tuned_thresholds(Y[half], P[half], tc)
                f1.append(metrics.compute(Y[~half], pred, None, topics)["overall"]["macro_f1"])
            cells += [f"{sd:.4f}", f"{np.mean(f1):.4f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.diagnostics.threshold_rules", description=__doc__)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="fit, save the scores into this folder, then compare")
    group.add_argument("--load", type=Path, help="compare the rules on scores saved before")
    args = ap.parse_args(argv)
    if args.save:
        fit_and_save(args.save)
    compare(args.save or args.load)


if __name__ == "__main__":
    main()
