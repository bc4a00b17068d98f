"""Section 2: training time and peak memory.

Each training runs in its own fresh Python process; its peak memory is that
process's peak RSS (getrusage high-water mark), and the RSS just before the fit
is reported beside it (interpreter, libraries and the data already loaded).

* Labeled set: ``train.training.train`` as ``gikai-topics train`` runs it, on a
  cold token cache (tokenization included), saving to the bench's private
  BentoML store.
* 10k / 100k corpus utterances (seeded random sample of the seeds corpus),
  pseudo-labeled by the model trained on the labels: tokenized once on a cold
  cache (timed, reported as "analyse"), then ``train.training.fit_labels`` runs
  in a fresh process on that (now warm) cache, so each fit is timed without
  re-tokenizing; "total" = cold analyse + fit.
* Both classifiers: liblinear logistic regression (the default) and SGD
  (``classifier.kind = "sgd"``).

Quick runs: the labeled set and 10k, SGD only (logistic regression needs
about 1.5 minutes per set here, which alone would exceed the quick budget).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .common import ROOT, ChildTimeout, Context, PhaseClock, fmt_num, fmt_s, rss_mb, run_child, say

FULL_SIZES = (10_000, 100_000)
QUICK_SIZES = (10_000,)
#: A fit still running after this long is stopped and reported as such (full run).
FIT_BUDGET_S = 900
QUICK_FIT_BUDGET_S = 240


def _config(kind: str):
    from train.config import TrainConfig

    return TrainConfig().replace(classifier={"kind": kind})


# ------------------------------------------------------------------ child jobs

def train_labels_job(labels: str, kind: str, out: str | None, to_store: bool) -> dict:
    """``train()`` on a label folder/file; GIKAI_TOPICS_CACHE (set by the parent) is an empty folder."""
    from train.training import train

    clock = PhaseClock()
    config = _config(kind)
    before = rss_mb()
    t0 = time.perf_counter()
    res = train(labels, config, name="gikai-topics-bench", out=Path(out) if out else None, to_store=to_store,
                progress=clock)
    wall = time.perf_counter() - t0
    t_an, t_fit, t_save = clock.first("analysing"), clock.first("threshold fold"), clock.first("saving")
    return {"kind": kind, "n": res.manifest["label_count"], "train_seconds": res.seconds,
            "analyse_s": t_fit - t_an, "fit_s": t_save - t_fit, "save_s": t0 + wall - t_save, "wall_s": wall,
            "rss_before_mb": before, "n_features": res.manifest["n_features"],
            "oof_macro_f1": res.model.oof_macro_f1, "tag": res.tag, "out": out}


def prepare_pseudo_job(corpus_file: str, n: int, model_dir: str, cache_dir: str, out: str) -> dict:
    """Tokenize ``n`` corpus utterances on a cold cache (timed), pseudo-label them, write a label file."""
    import numpy as np

    from bench.common import read_corpus_rows
    from train.cache import TokenCache
    from train.inference import load_model

    rows = read_corpus_rows(corpus_file, n)
    tagger = load_model(model_dir)
    model = tagger.model
    texts = [r["text"] for r in rows]
    cache = TokenCache(model.analyzer, Path(cache_dir))
    t0, c0 = time.perf_counter(), time.process_time()
    tokens = cache.tokens(texts)
    analyse, analyse_cpu = time.perf_counter() - t0, time.process_time() - c0
    cache.save()
    probs = model.predict_proba_tokens(tokens, texts)
    Y = model.decide(probs)
    with open(out, "w", encoding="utf-8") as fh:
        for r, y in zip(rows, Y):
            topics = [t for t, on in zip(tagger.topic_ids, y) if on]
            fh.write(json.dumps({"id": r["id"], "text": r["text"], "topics": topics,
                                 "municipality": r.get("municipality")}, ensure_ascii=False) + "\n")
    return {"n": len(rows), "chars": sum(map(len, texts)), "analyse_s": analyse, "analyse_cpu_s": analyse_cpu,
            "zero_topic_share": float((Y.sum(axis=1) == 0).mean()),
            "positives": {t: int(c) for t, c in zip(tagger.topic_ids, np.asarray(Y).sum(axis=0))}}


def fit_pseudo_job(labels: str, kind: str, cache_dir: str) -> dict:
    """``fit_labels`` on a pseudo-labeled file, tokens from the warm cache the parent filled."""
    from train.cache import TokenCache
    from train.labeling.store import read_labels
    from train.text import JapaneseAnalyzer
    from train.training import fit_labels

    label_set, problems = read_labels(labels, strict=False)
    config = _config(kind)
    before = rss_mb()
    clock = PhaseClock()
    t0 = time.perf_counter()
    model = fit_labels(label_set, config, cache=TokenCache(JapaneseAnalyzer(config.analyzer), Path(cache_dir)),
                       progress=clock)
    end = time.perf_counter()
    t_fit = clock.first("threshold fold")
    return {"kind": kind, "n": len(label_set), "cache_s": t_fit - t0, "fit_s": end - t_fit,
            "rss_before_mb": before, "n_features": int(model.W.shape[0]),
            "oof_macro_f1": model.oof_macro_f1, "label_problems": len(problems)}


# ------------------------------------------------------------------ parent side

def _labels_job(ctx: Context, kind: str, *, keep_model: bool, labels: Path | None = None, timeout: float) -> dict:
    cache = ctx.fresh_dir("cache-cold")
    out = ctx.fresh_dir("model") / "m" if keep_model else None
    res = run_child("bench.training:train_labels_job",
                    {"labels": str(labels or ROOT / "labels"), "kind": kind, "out": str(out) if out else None,
                     "to_store": keep_model},
                    env={"GIKAI_TOPICS_CACHE": str(cache)}, timeout=timeout, log=ctx.path("logs", "training.log"))
    r = res["result"]
    r["peak_rss_mb"] = res["peak_rss_mb"]
    r["cpu_s"] = res["cpu_s"]
    return r


def register_labels_model(ctx: Context, r: dict) -> None:
    ctx.shared["labels_model"] = {"dir": r["out"], "tag": r["tag"], "kind": r["kind"],
                                  "train_seconds": r["train_seconds"], "n": r["n"]}
    if r["kind"] == "logreg":
        ctx.shared["one_train"] = {"seconds": r["train_seconds"], "n": r["n"], "analyse_s": r["analyse_s"],
                                   "fit_s": r["fit_s"], "labels": "labels/"}


def served_kind(ctx: Context) -> str:
    return "sgd" if ctx.quick else "logreg"


def train_labels_model(ctx: Context) -> None:
    kind = served_kind(ctx)
    say(f"training the labels model ({kind}) for the other sections")
    register_labels_model(ctx, _labels_job(ctx, kind, keep_model=True, timeout=1800))


def run(ctx: Context) -> dict:
    budget = QUICK_FIT_BUDGET_S if ctx.quick else FIT_BUDGET_S
    kinds = ("sgd",) if ctx.quick else ("logreg", "sgd")
    serve_kind = served_kind(ctx)
    results: list[dict] = []
    # labeled set; the served model's kind first so the other sections can use it
    for kind in sorted(kinds, key=lambda k: k != serve_kind):
        say(f"training: labeled set, {kind} (cold token cache)")
        r = _labels_job(ctx, kind, keep_model=(kind == serve_kind), timeout=budget + 300)
        if kind == serve_kind:
            register_labels_model(ctx, r)
        results.append({"set": f"labels ({r['n']:,})", "n": r["n"], "kind": kind, "analyse_s": r["analyse_s"],
                        "fit_s": r["fit_s"], "total_s": r["train_seconds"], "rss_before_mb": r["rss_before_mb"],
                        "peak_rss_mb": r["peak_rss_mb"], "oof_macro_f1": r["oof_macro_f1"], "cpu_s": r["cpu_s"],
                        "n_features": r["n_features"]})
    model = ctx.labels_model()
    for n in (QUICK_SIZES if ctx.quick else FULL_SIZES):
        cache = ctx.fresh_dir(f"cache-pseudo-{n}")
        lab = ctx.path("data", f"pseudo-{n}.jsonl")
        say(f"training: tokenizing and pseudo-labeling {n:,} corpus utterances")
        prep_res = run_child("bench.training:prepare_pseudo_job", {"corpus_file": str(ctx.corpus_file()), "n": n,
                                                             "model_dir": model["dir"], "cache_dir": str(cache),
                                                             "out": str(lab)},
                             timeout=1800, log=ctx.path("logs", "training.log"))
        prep = prep_res["result"]
        # CPU of the cold tokenization only (the prep process also pseudo-labels and writes files)
        prep_cpu = prep["analyse_cpu_s"]
        for kind in kinds:
            say(f"training: {n:,} pseudo-labeled, {kind}")
            row = {"set": f"{n // 1000}k pseudo-labeled", "n": prep["n"], "kind": kind,
                   "analyse_s": prep["analyse_s"], "zero_topic_share": prep["zero_topic_share"]}
            try:
                res = run_child("bench.training:fit_pseudo_job", {"labels": str(lab), "kind": kind,
                                                                   "cache_dir": str(cache)},
                                timeout=budget, log=ctx.path("logs", "training.log"))
                r = res["result"]
                row.update(fit_s=r["fit_s"], total_s=prep["analyse_s"] + r["fit_s"], cache_s=r["cache_s"],
                           rss_before_mb=r["rss_before_mb"], peak_rss_mb=res["peak_rss_mb"],
                           oof_macro_f1=r["oof_macro_f1"], n_features=r["n_features"],
                           cpu_s=prep_cpu + res["cpu_s"])
            except ChildTimeout as exc:
                row.update(fit_s=None, total_s=None, stopped_after_s=exc.seconds)
            results.append(row)

    rows = []
    for r in results:
        name = f"train {r['set']}, {r['kind']}"
        if r.get("stopped_after_s"):
            rows.append({"name": name, "value": f"> {r['stopped_after_s']:,.0f} s",
                         "detail": f"fit stopped at the {budget:,} s budget; analyse {fmt_s(r['analyse_s'])}"})
            continue
        detail = (f"analyse {fmt_s(r['analyse_s'])} (cold) + fit {fmt_s(r['fit_s'])}; process CPU {fmt_s(r['cpu_s'])}; "
                  f"peak RSS {fmt_num(r['peak_rss_mb'])} MB ({fmt_num(r['rss_before_mb'])} MB before the fit); "
                  f"{r['n_features']:,} features; internal OOF macro-F1 {r['oof_macro_f1']:.3f}")
        rows.append({"name": name, "value": fmt_s(r["total_s"]), "detail": detail})
    notes = ["fit = 4-fold internal CV to tune the per-topic thresholds + the final fit (what `train` does).",
             "Pseudo-labels come from the model trained on the labels "
             f"({model['kind']}); they make the scaling runs realistic in size and label density, "
             "not in difficulty (a model's own labels are easier to fit than human ones)."]
    if ctx.quick:
        notes.append("Quick run: labeled set and 10k only, SGD only; the full run adds logistic regression "
                     "(the default classifier) and 100k.")
    return {"title": "Training", "rows": rows, "targets": [], "notes": notes, "data": results}
