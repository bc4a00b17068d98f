"""Section 5: accuracy against peers on the same cross-validation folds.

Folds: ``train.folds.stratified_group_folds`` over the labels (5 folds, seed 0;
quick run: 3 folds on a 2,000-label subset), the same folds ``evaluate`` uses.
On each fold, every contender trains on the training part only and is scored
on the test part with ``train.evaluation.metrics.compute``:

* ours: ``TopicClassifier`` with the default config (Sudachi words + TF-IDF +
  logistic regression + per-topic thresholds tuned by internal 4-fold CV);
* char n-grams: the same with ``features.words = false, char_ngrams = true``
  (character 2-3-grams, same classifier, same threshold tuning);
* fastText: supervised, one-vs-all loss (``loss="ova"``) on the same Sudachi
  tokens as ours, space-joined; per-topic thresholds tuned exactly like ours
  (out-of-fold probabilities of an internal 4-fold CV on the training part,
  ``train.fitting.tuned_thresholds``), then a final fit on the whole training
  part.  Utterances with no topic get a ``__label__none`` so fastText sees them.
  Scores come from the single-line binding (``model.f.predict``): in
  fasttext-wheel 0.9.2 the batch predict returns the top probability for
  every label, and ``FastText.predict`` fails under NumPy 2.
  Settings: epoch 25, lr 0.5, wordNgrams 2, dim 100, minCount 1, bucket 200k,
  1 thread (our fits are single-threaded too), seed 0: the best of a small
  grid tried on fold 1 of the full labels (epoch 10/25/50, lr 0.5/1.0,
  wordNgrams 1/2, dim 50/100; macro-F1 0.620-0.648), which if anything
  favours fastText;
* topic prior: random draws at each topic's training prevalence (the
  ``evaluate`` baseline).

Training time is the mean per fold, threshold tuning included.  In a full run
where the CV section ran first, "ours" is taken from that run: same folds,
same config, same code (``cross_validate`` builds its folds with the same
function and seed), so it is not fitted twice.
"""

from __future__ import annotations

import time
from pathlib import Path

from .common import ROOT, Context, fmt_s, run_child, say, write_label_subset

FT_PARAMS = {"epoch": 25, "lr": 0.5, "wordNgrams": 2, "dim": 100, "minCount": 1, "bucket": 200_000, "thread": 1,
             "seed": 0, "loss": "ova", "verbose": 0}
QUICK_LABELS = 2000


def _ft_file(path: Path, tokens, Y, topic_ids) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for toks, y in zip(tokens, Y):
            labs = [f"__label__{t}" for t, on in zip(topic_ids, y) if on] or ["__label__none"]
            fh.write(" ".join(labs) + " " + " ".join(toks) + "\n")


def _ft_fit_predict(workdir: Path, tokens_tr, Y_tr, tokens_te, topic_ids) -> "np.ndarray":
    import fasttext
    import numpy as np

    path = workdir / "ft-train.txt"
    _ft_file(path, tokens_tr, Y_tr, topic_ids)
    model = fasttext.train_supervised(str(path), **FT_PARAMS)
    col = {f"__label__{t}": j for j, t in enumerate(topic_ids)}
    P = np.zeros((len(tokens_te), len(topic_ids)))
    for r, toks in enumerate(tokens_te):
        # the single-line binding: fasttext-wheel 0.9.2's batch predict (multilinePredict) repeats the top
        # probability for every label, and its Python predict() fails under NumPy 2 (np.array(copy=False))
        for p, lab in model.f.predict(" ".join(toks).replace("\n", " "), -1, 0.0, "strict"):
            j = col.get(lab)
            if j is not None:
                P[r, j] = min(float(p), 1.0)
    return P


def fasttext_fold(workdir: Path, tokens, Y, groups, tr, te, topic_ids, threshold_cfg) -> tuple:
    """Fit on ``tr`` (thresholds by internal CV like ours), score ``te``; return (scores, pred, seconds)."""
    import numpy as np

    from train.fitting import tuned_thresholds
    from train.folds import stratified_group_folds

    t0 = time.perf_counter()
    tok_tr, Y_tr, g_tr = [tokens[i] for i in tr], Y[tr], [groups[i] for i in tr]
    oof = np.zeros(Y_tr.shape)
    for itr, ite in stratified_group_folds(Y_tr, g_tr, threshold_cfg.folds, seed=0):
        oof[ite] = _ft_fit_predict(workdir, [tok_tr[i] for i in itr], Y_tr[itr], [tok_tr[i] for i in ite], topic_ids)
    thresholds = tuned_thresholds(Y_tr, oof, threshold_cfg)
    scores = _ft_fit_predict(workdir, tok_tr, Y_tr, [tokens[i] for i in te], topic_ids)
    seconds = time.perf_counter() - t0
    return scores, scores >= thresholds, seconds


def peers_job(labels: str, folds: int, workdir: str, skip_ours: bool) -> dict:
    import numpy as np

    from train.cache import TokenCache
    from train.config import TrainConfig
    from train.evaluation import metrics
    from train.evaluation.fits import prior_scores
    from train.folds import stratified_group_folds
    from train.labeling.store import label_matrix, read_labels
    from train.model import TopicClassifier
    from train.text import JapaneseAnalyzer

    label_set = read_labels(labels)[0].in_id_order()  # as train and evaluate read them
    ids = label_set.taxonomy.ids
    texts = [ex.text for ex in label_set.examples]
    groups = [ex.group for ex in label_set.examples]
    Y = label_matrix(label_set.examples, ids)
    config = TrainConfig()
    tokens = TokenCache(JapaneseAnalyzer(config.analyzer), None).tokens(texts)
    char_config = config.replace(features={"words": False, "char_ngrams": True, "vectors": "none",
                                           "general_vectors": "none"})
    splits = stratified_group_folds(Y, groups, folds, seed=0)
    rng = np.random.default_rng(1)
    out: dict[str, list] = {"ours": [], "char_ngrams": [], "fasttext": [], "topic_prior": []}
    wd = Path(workdir)

    def score(name, te, pred, scores, seconds):
        m = metrics.compute(Y[te], pred, scores, ids)["overall"]
        out[name].append({"macro_f1": m["macro_f1"], "micro_f1": m["micro_f1"], "fit_s": seconds})

    for k, (tr, te) in enumerate(splits):
        sub = lambda seq, idx: [seq[i] for i in idx]  # noqa: E731
        contenders = [("char_ngrams", char_config)] if skip_ours else [("ours", config), ("char_ngrams", char_config)]
        for name, cfg in contenders:
            print(f"fold {k + 1}/{folds}: {name}", flush=True)
            t0 = time.perf_counter()
            model = TopicClassifier(cfg, ids).fit(sub(tokens, tr), Y[tr], texts=sub(texts, tr), groups=sub(groups, tr))
            seconds = time.perf_counter() - t0
            scores = model.predict_proba_tokens(sub(tokens, te), sub(texts, te))
            score(name, te, model.decide(scores), scores, seconds)
        print(f"fold {k + 1}/{folds}: fasttext", flush=True)
        scores, pred, seconds = fasttext_fold(wd, tokens, Y, groups, tr, te, ids, config.thresholds)
        score("fasttext", te, pred, scores, seconds)
        t0 = time.perf_counter()
        ps, pp = prior_scores(Y[tr], len(te), rng)
        score("topic_prior", te, pp, ps, time.perf_counter() - t0)
    return {"n": len(texts), "folds": folds, "per_fold": out}


def _summary(per_fold: list[dict]) -> dict:
    import numpy as np

    return {k: {"mean": float(np.mean([f[k] for f in per_fold])), "std": float(np.std([f[k] for f in per_fold]))}
            for k in ("macro_f1", "micro_f1", "fit_s")}


def run(ctx: Context) -> dict:
    folds = 3 if ctx.quick else 5
    if ctx.quick:
        labels = ctx.path("data", f"labels-{QUICK_LABELS}.jsonl")
        write_label_subset(QUICK_LABELS, labels)
    else:
        labels = ROOT / "labels"
    reuse = None if ctx.quick else ctx.shared.get("cv_folds")
    if reuse is not None and (reuse["folds"] != folds or reuse["n_jobs"] != 1):
        reuse = None
    say(f"peers: {folds} folds" + (" (ours from the CV section)" if reuse else ""))
    res = run_child("bench.peers:peers_job", {"labels": str(labels), "folds": folds,
                                              "workdir": str(ctx.fresh_dir("fasttext")), "skip_ours": reuse is not None},
                    timeout=5400, log=ctx.path("logs", "peers.log"))["result"]
    per_fold = res["per_fold"]
    if reuse is not None:
        per_fold["ours"] = [{"macro_f1": f["macro_f1"], "micro_f1": f["micro_f1"], "fit_s": f["fit_seconds"]}
                            for f in reuse["fold_rows"]]
    summ = {name: _summary(v) for name, v in per_fold.items()}
    names = {"ours": "ours (Sudachi words, TF-IDF, logreg)", "char_ngrams": "char 2-3-gram TF-IDF, logreg",
             "fasttext": "fastText supervised (ova)", "topic_prior": "topic prior"}
    rows = []
    for key in ("ours", "char_ngrams", "fasttext", "topic_prior"):
        s = summ[key]
        rows.append({"name": names[key],
                     "value": f"macro-F1 {s['macro_f1']['mean']:.3f}",
                     "detail": f"± {s['macro_f1']['std']:.3f}; micro-F1 {s['micro_f1']['mean']:.3f} ± "
                               f"{s['micro_f1']['std']:.3f}; train {fmt_s(s['fit_s']['mean'])} per fold"})
    ours = summ["ours"]["macro_f1"]["mean"]
    targets = []
    for key, label in (("fasttext", "fastText"), ("char_ngrams", "char n-grams")):
        other = summ[key]["macro_f1"]["mean"]
        targets.append({"name": f"macro-F1 ours vs {label}", "target": ">=", "value": f"{ours:.3f} vs {other:.3f}",
                        "met": ours >= other,
                        "why": "" if ours >= other else f"{label} scores higher on these folds"})
    notes = [f"{res['n']:,} labeled utterances, {folds} folds (stratified over topics, near-duplicate groups kept "
             "together, seed 0); mean ± std over folds.",
             "fastText: one-vs-all loss on our Sudachi tokens, thresholds tuned like ours (internal 4-fold CV); "
             "epoch 25, lr 0.5, wordNgrams 2, dim 100, 1 thread: the best of a small grid tried on fold 1 "
             "(macro-F1 0.620-0.648 across it), which if anything favours fastText."]
    if reuse is not None:
        notes.append("ours: figures of the CV section's 5-fold run in this invocation (identical folds and config).")
    if ctx.quick:
        notes.append(f"Quick run: a {QUICK_LABELS:,}-label subset and 3 folds; the full run uses all labels, 5 folds.")
    return {"title": "Accuracy vs peers", "rows": rows, "targets": targets, "notes": notes,
            "data": {"summary": summ, "per_fold": per_fold, "n": res["n"], "folds": folds,
                     "fasttext_params": FT_PARAMS}}
