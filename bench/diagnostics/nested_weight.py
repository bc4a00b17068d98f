"""A nested choice of the word-vector block's weight, scored on held-out councils (docs/MODEL.md, eighteenth session).

``python -m bench.diagnostics.nested_weight [--weights 1,2] [--assemblies 小樽市,...] [--jobs 2]``

For each held-out council A (evaluate's leave-one-assembly-out splits and strict word vectors):

* the outer fits: the recipe at every weight on A's training side (thresholds tuned inside), scoring A;
* the inner fits: for each inner council B, one fit per weight on A's training side without B (no threshold folds:
  the choice uses average precision, which needs none), scoring B.  The inner councils are the other held-out
  councils that leave at least ``--min-inner-train`` training labels when left out; when some of them have
  ``--min-inner-scored`` scored labels or more, only those (a council of 50-200 labels adds noise, not signal, to a
  pooled average precision);
* the choice: per topic, the weight with the best average precision pooled over the inner councils; and one weight
  for all topics, by the mean of those.  Neither sees A.

Prints the choices and the held-out macro-F1 per council, their mean and the pooled figure for: each weight
everywhere, the one chosen weight, and a weight per topic (scores and decisions of the outer fit at each topic's
weight).  The inner fits use A's word vectors, which saw B's unlabeled minutes: that touches the choice, never A.
With weights 1 and 2 on the five councils it takes about an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from joblib import Parallel, delayed

from train.evaluation import metrics
from train.evaluation.cv import EvalOptions
from train.evaluation.fits import fit_predict
from train.evaluation.heldout_vectors import held_out_vectors
from train.fitting import configured_vectors
from train.model import TopicClassifier

from . import held_out_data


def _outer(config, ids, tokens, texts, groups, Y, tr, te, vectors):
    r = fit_predict(config, ids, tokens, texts, groups, Y, tr, te, explain=False, vectors=vectors)
    return r["scores"], r["pred"]


def _inner(config, ids, tokens, texts, Y, tr, te, vectors):
    model = TopicClassifier(config, ids)
    parts = model.fit_once([tokens[i] for i in tr], [texts[i] for i in tr], Y[tr], configured_vectors(config, vectors))
    return model.probs_with(*parts, [tokens[i] for i in te], [texts[i] for i in te])


def inner_councils(splits, a, min_train, min_scored) -> list[str]:
    """The councils whose inner fits choose A's weight (see the module's docstring)."""
    keep = [b for b in splits if b != a and len(np.intersect1d(splits[a][0], splits[b][0])) >= min_train]
    big = [b for b in keep if len(splits[b][1]) >= min_scored]
    return big or keep


def _pooled_ap(Y, ids, parts) -> np.ndarray:
    """Average precision per topic over the inner councils' scores pooled (NaN for a topic without positives),
    as evaluate's metrics define it; the decisions argument is unused by it."""
    te = np.concatenate([t for t, _ in parts])
    P = np.vstack([p for _, p in parts])
    per_topic = metrics.compute(Y[te], np.zeros(P.shape, dtype=bool), P, ids)["per_topic"]
    return np.array([np.nan if per_topic[t]["average_precision"] is None else per_topic[t]["average_precision"]
                     for t in ids])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.diagnostics.nested_weight", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="1,2", help="vectors_weight values, comma-separated (default 1,2)")
    ap.add_argument("--assemblies", default="", help="held-out councils to score (default: all evaluate holds out)")
    ap.add_argument("--min-inner-train", type=int, default=5000)
    ap.add_argument("--min-inner-scored", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    try:
        weights = [float(w) for w in args.weights.split(",")]
    except ValueError:
        raise SystemExit(f"--weights: expected numbers separated by commas (e.g. 1,2), "
                         f"found {args.weights!r}") from None
    if len(set(weights)) < 2:
        raise SystemExit(f"--weights: expected at least two different weights to choose between, "
                         f"found {args.weights!r}")

    data = held_out_data(EvalOptions(n_jobs=args.jobs))
    base, tokens, splits = data.config, data.tokens, data.splits
    ids, texts, groups, Y = data.inputs.ids, data.inputs.texts, data.inputs.groups, data.inputs.Y
    outer_names = [a for a in args.assemblies.split(",") if a] or list(splits)
    unknown = [a for a in outer_names if a not in splits]
    if unknown:
        raise SystemExit(f"--assemblies: expected councils evaluate holds out ({', '.join(splits)}), found "
                         f"{', '.join(unknown)}")
    vectors = held_out_vectors(base, outer_names, None, n_jobs=args.jobs, progress=print)
    cfg = {w: base.replace(features={"vectors_weight": w}) for w in weights}
    inner = {a: inner_councils(splits, a, args.min_inner_train, args.min_inner_scored) for a in outer_names}
    lonely = [a for a in outer_names if not inner[a]]
    if lonely:
        raise SystemExit(f"{', '.join(lonely)}: expected another held-out council that leaves at least "
                         f"{args.min_inner_train:,} training labels when left out, found none; lower --min-inner-train")

    jobs, keys, inner_test = [], [], {}
    for a in outer_names:
        tr, te = splits[a]
        inner_train = {b: np.intersect1d(tr, splits[b][0]) for b in inner[a]}
        inner_test.update({(a, b): np.intersect1d(splits[b][1], tr) for b in inner[a]})
        for w in weights:
            keys.append(("outer", a, None, w))
            jobs.append(delayed(_outer)(cfg[w], ids, tokens, texts, groups, Y, tr, te, vectors.get(a)))
            for b in inner[a]:
                keys.append(("inner", a, b, w))
                jobs.append(delayed(_inner)(cfg[w], ids, tokens, texts, Y, inner_train[b], inner_test[(a, b)],
                                            vectors.get(a)))
    print(f"{len(jobs)} fits on {args.jobs} processes")
    results = dict(zip(keys, Parallel(n_jobs=args.jobs, verbose=5)(jobs)))

    rows = {f"{w:g} everywhere": {} for w in weights}
    rows.update({"one weight, chosen inside": {}, "a weight per topic, chosen inside": {}})
    print("\n| held-out council | inner councils | inner macro-AP per weight | one weight chosen | topics not at "
          f"{weights[0]:g} |\n|---|---|---|---:|---|")
    for a in outer_names:
        ap_w = np.vstack([_pooled_ap(Y, ids, [(inner_test[(a, b)], results[("inner", a, b, w)]) for b in inner[a]])
                          for w in weights])  # weights x topics
        per_topic = np.nanargmax(np.where(np.isnan(ap_w), -1.0, ap_w), axis=0)
        one = int(np.argmax(np.nanmean(ap_w, axis=1)))
        print(f"| {a} | {', '.join(inner[a])} | {' / '.join(f'{m:.3f}' for m in np.nanmean(ap_w, axis=1))} | "
              f"{weights[one]:g} | {', '.join(f'{t} ({weights[k]:g})' for t, k in zip(ids, per_topic) if k) or '–'} |")
        outer = [results[("outer", a, None, w)] for w in weights]
        for k, w in enumerate(weights):
            rows[f"{w:g} everywhere"][a] = outer[k]
        rows["one weight, chosen inside"][a] = outer[one]
        cols = np.arange(len(ids))
        rows["a weight per topic, chosen inside"][a] = (np.stack([o[0] for o in outer])[per_topic, :, cols].T,
                                                        np.stack([o[1] for o in outer])[per_topic, :, cols].T)
    print(f"\n| weights | {' | '.join(outer_names)} | mean | pooled |\n|---|{'---:|' * (len(outer_names) + 2)}")
    pooled_topics = {}
    for name, by_a in rows.items():
        per = [metrics.compute(Y[splits[a][1]], by_a[a][1], by_a[a][0], ids)["overall"]["macro_f1"] for a in outer_names]
        te = np.concatenate([splits[a][1] for a in outer_names])
        pooled = metrics.compute(Y[te], np.vstack([by_a[a][1] for a in outer_names]),
                                 np.vstack([by_a[a][0] for a in outer_names]), ids)
        pooled_topics[name] = {t: round(pooled["per_topic"][t]["f1"], 3) for t in ids}
        print(f"| {name} | {' | '.join(f'{m:.3f}' for m in per)} | {np.mean(per):.3f} | "
              f"{pooled['overall']['macro_f1']:.3f} |")
    print("\npooled F1 per topic:\n" + json.dumps(pooled_topics, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
