"""Self-training on a held-out council's unlabeled minutes (docs/MODEL.md, twelfth session).

``python -m bench.diagnostics.self_training 品川区 [--pool 20000] [--shared] [--transductive] [--prevalence]``

Round 1 is evaluate's held-out fit for that assembly (the other assemblies' labels; strict word vectors unless
``--shared``).  Round 2 adds up to ``--pool`` of the held-out assembly's unlabeled utterances (60-3,000
characters; with ``--transductive`` its labeled texts too, their labels unused) with round 1's predicted topics as
labels, and fits again: vocabulary, weights and thresholds.  ``--prevalence`` labels instead, per topic, the
pool's top share equal to the topic's share in the training labels.  Prints macro-F1, mean average precision and
per-topic F1 on the assembly's scored labels, for round 1 and for round 2 with its own and with round 1's
thresholds.  Takes about 3 minutes for 品川区 and 8 for 東京都 on 2 cores.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from train.corpus import read_corpus
from train.evaluation import metrics
from train.evaluation.cv import EvalOptions
from train.evaluation.heldout_vectors import held_out_vectors
from train.fitting import configured_vectors
from train.model import TopicClassifier
from train.paths import default_path

from . import held_out_data


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.diagnostics.self_training", description=__doc__)
    ap.add_argument("assembly")
    ap.add_argument("--pool", type=int, default=20000)
    ap.add_argument("--shared", action="store_true", help="word vectors learned with the assembly's text (bundled)")
    ap.add_argument("--transductive", action="store_true", help="the pool may hold the labeled texts (labels unused)")
    ap.add_argument("--prevalence", action="store_true", help="pseudo-labels by the training labels' topic shares")
    args = ap.parse_args(argv)

    data = held_out_data(EvalOptions())
    config, tokens, cache = data.config, data.tokens, data.cache
    ids, texts, groups, Y = data.inputs.ids, data.inputs.texts, data.inputs.groups, data.inputs.Y
    tr, te = data.splits[args.assembly]
    vectors = configured_vectors(config) if args.shared else held_out_vectors(config, [args.assembly])[args.assembly]

    labeled = set(texts)
    pool = sorted({r.text for r in read_corpus([default_path("seeds")])
                   if r.municipality == args.assembly and 60 <= len(r.text) <= 3000
                   and (args.transductive or r.text not in labeled)})
    if not pool:
        raise SystemExit(f"{args.assembly}: expected unlabeled utterances of 60-3,000 characters in seeds/ to "
                         "self-train on, found none (all are labeled, or none is that long); pass --transductive "
                         "to use the labeled texts without their labels")
    if len(pool) > args.pool:
        pool = [pool[i] for i in sorted(np.random.default_rng(0).choice(len(pool), args.pool, replace=False))]
    pool_tokens = cache.tokens(pool)
    cache.save()

    def fit(tok, txt, Yt, grp):
        return TopicClassifier(config, ids).fit(tok, Yt, texts=txt, groups=grp, vectors=vectors, n_jobs=2)

    def show(name, model, thresholds=None):
        S = model.scores(model.transform([tokens[i] for i in te], [texts[i] for i in te]))
        r = metrics.compute(Y[te], S >= (model.thresholds if thresholds is None else thresholds), S, ids)
        ap_ = [v["average_precision"] for v in r["per_topic"].values()]
        print(json.dumps({"variant": name, "macro_f1": round(r["overall"]["macro_f1"], 4),
                          "mean_ap": round(float(np.mean(ap_)), 4),
                          "f1": {k: round(v["f1"], 3) for k, v in r["per_topic"].items()}}, ensure_ascii=False))

    print(f"{args.assembly}: train {len(tr):,}, test {len(te):,}, unlabeled pool {len(pool):,}")
    m1 = fit([tokens[i] for i in tr], [texts[i] for i in tr], Y[tr], [groups[i] for i in tr])
    show("round 1 (the held-out fit)", m1)
    S = m1.scores(m1.transform(pool_tokens, pool))
    Yp = (S >= m1.thresholds).astype(Y.dtype)
    if args.prevalence:
        Yp[:] = 0
        for j, share in enumerate(Y[tr].mean(0)):
            Yp[np.argsort(-S[:, j])[: int(round(share * len(pool)))], j] = 1
    m2 = fit([tokens[i] for i in tr] + list(pool_tokens), [texts[i] for i in tr] + pool, np.vstack([Y[tr], Yp]),
             [groups[i] for i in tr] + [f"pool:{i}" for i in range(len(pool))])
    show("round 2, its own thresholds", m2)
    show("round 2, round 1's thresholds", m2, m1.thresholds)


if __name__ == "__main__":
    main()
