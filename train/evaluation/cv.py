"""Leakage-safe cross-validation of the whole training procedure.

* folds: iteratively stratified over topics, near-duplicate groups never split;
* each training fold runs the full procedure (threshold tuning by internal CV
  included) and never sees its test fold;
* leave-one-assembly-out: train on the other assemblies, test on one; when the
  model uses word vectors they are re-learned without the held-out assembly's
  text ("strict"), so no labeled or unlabeled text of that assembly trains the
  model (the general-domain vectors were learned from web text; which words got a
  row, and their PCA, used the whole corpus's vocabulary, but only words of the
  training labels ever reach a fit);
* baselines on the same folds: topic prior and character n-gram TF-IDF with the
  same classifier and threshold tuning;
* learning curve: 1/8, 1/4, 1/2 and all of each training fold;
* error analysis: per topic the worst false positives / negatives with the terms
  that drove their scores.

Texts are tokenized once (through :class:`train.cache.TokenCache`) and the token
lists are handed to the folds, which run in parallel through joblib.  This module
holds the options, plans the fits and turns their results into the report; the
splits and the fit each fold runs are in :mod:`train.evaluation.fits`, the held-out
assemblies' plans and sections in :mod:`train.evaluation.heldout`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np
from joblib import Parallel, delayed

from ..cache import TokenCache
from ..config import TrainConfig
from ..errors import InputError
from ..fitting import configured_vectors
from ..labeling.store import LabelSet
from ..versions import library_versions, now_iso
from . import metrics
from .fits import ERRORS_PER_TOPIC, cv_splits, fit_predict, group_subsample, prior_scores
from .heldout import adaptation_report, held_out_report, plan_adaptation, plan_held_out
from .inputs import EvalInputs, analysed_tokens

LEARNING_FRACTIONS = (0.125, 0.25, 0.5, 1.0)
CHAR_BASELINE_FEATURES = 50_000  # keeps the baseline affordable: 200k char n-grams made each fit ~2x slower


#: --corpus given where nothing reads it (what was found goes in the braces)
_CORPUS_UNUSED = ("--corpus: expected only with strict held-out vectors (the corpus they are re-learned from), found "
                  "{}; drop --corpus")


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    folds: int = 5
    repeats: int = 1
    seed: int = 0
    n_jobs: int = 1
    loao: bool = True
    loao_min_labels: int = 30
    baselines: bool = True
    learning_curve: bool = True
    error_analysis: bool = True
    #: "strict": word vectors re-learned without each held-out assembly; "shared": the configured ones
    loao_vectors: str = "strict"
    #: the unlabeled corpus strict vectors are learned from (default: the bundled seeds/)
    corpus: tuple[str, ...] | None = None
    #: score test items chosen by a model's uncertainty too (by default they only train: a test set picked
    #: where a model was unsure is harder than the utterances the product meets, and not comparable)
    score_model_chosen: bool = False
    #: adaptation curve: each held-out assembly's fold also trained with this many of its own labels (drawn at
    #: random from a quarter of its groups) and scored on the rest; () = not run
    adapt: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        from ..errors import ConfigError

        if not isinstance(self.adapt, tuple) or not all(
                isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in self.adapt):
            raise ConfigError(f"--adapt: expected label counts >= 1 such as 500,2000, found {self.adapt!r}")
        if self.adapt and not self.loao:
            raise ConfigError("--adapt: expected the held-out assemblies to be evaluated (it extends them), found "
                              "them skipped; drop --skip held-out (and --quick)")

        if self.loao_vectors not in ("strict", "shared"):
            raise ConfigError(f"--loao-vectors: expected 'strict' or 'shared', found {self.loao_vectors!r}")
        if self.corpus is not None and (not self.loao or self.loao_vectors != "strict"):
            raise ConfigError(_CORPUS_UNUSED.format("the held-out assemblies skipped (--skip held-out or --quick)"
                                                    if not self.loao else "--loao-vectors shared"))

        if not isinstance(self.folds, int) or self.folds < 2:
            raise ConfigError(f"--folds: expected an integer >= 2, found {self.folds!r}")
        if not isinstance(self.n_jobs, int) or isinstance(self.n_jobs, bool) or (self.n_jobs < 1 and self.n_jobs != -1):
            raise ConfigError(f"--jobs: expected an integer >= 1, or -1 (one per core), found {self.n_jobs!r}")
        if not isinstance(self.repeats, int) or self.repeats < 1:
            raise ConfigError(f"--repeats: expected an integer >= 1, found {self.repeats!r}")


# --------------------------------------------------------------------------- the report's sections

def _cv_section(splits: list, by_key: dict, Y: np.ndarray, ids: list[str], examples, options: EvalOptions) -> dict:
    """Per-fold metrics and thresholds, the first repeat's out-of-fold scores, and the worst errors over all folds."""
    fold_metrics, fold_rows = [], []
    oof_scores = np.zeros(Y.shape)
    oof_pred = np.zeros(Y.shape, dtype=bool)
    threshold_rows = []
    errors: dict[str, list] = {t: [] for t in ids}
    for rep, k, tr, te in splits:
        res = by_key[("model", rep, k, 1.0)]
        m = metrics.compute(Y[te], res["pred"], res["scores"], ids)
        fold_metrics.append(m)
        fold_rows.append({"repeat": rep, "fold": k, "train": int(len(tr)), "test": int(len(te)),
                          "macro_f1": m["overall"]["macro_f1"], "micro_f1": m["overall"]["micro_f1"],
                          "fit_seconds": round(res["fit_seconds"], 2)})
        threshold_rows.append({t: round(float(x), 4) for t, x in zip(ids, res["thresholds"])})
        if rep == 0:
            oof_scores[te] = res["scores"]
            oof_pred[te] = res["pred"]
            for t, rows in res["errors"].items():
                errors[t].extend(rows)
    for t in ids:  # keep the worst over all folds
        fps = sorted((r for r in errors[t] if r["kind"] == "false_positive"), key=lambda r: -r["score"])
        fns = sorted((r for r in errors[t] if r["kind"] == "false_negative"), key=lambda r: r["score"])
        errors[t] = fps[:ERRORS_PER_TOPIC] + fns[:ERRORS_PER_TOPIC]
        for r in errors[t]:
            ex = examples[r.pop("index")]
            r["id"] = ex.id
            r["labels"] = list(ex.topics)
    return {"cv": metrics.aggregate(fold_metrics, ids, options.repeats), "folds": fold_rows,
            "fold_thresholds": threshold_rows, "oof_scores": oof_scores, "oof_pred": oof_pred, "errors": errors}


def _baselines_section(splits: list, by_key: dict, Y: np.ndarray, ids: list[str], options: EvalOptions) -> dict:
    prior_folds, char_folds = [], []
    prior_rng = np.random.default_rng(options.seed + 1)
    for rep, k, tr, te in splits:
        ps, pp = prior_scores(Y[tr], len(te), prior_rng)
        prior_folds.append(metrics.compute(Y[te], pp, ps, ids))
        res = by_key[("char_ngram", rep, k, 1.0)]
        char_folds.append(metrics.compute(Y[te], res["pred"], res["scores"], ids))
    return {
        "topic_prior": {"description": "random draws at each topic's training prevalence",
                        **metrics.aggregate(prior_folds, ids, options.repeats)},
        "char_ngram": {"description": "character 2-3-gram TF-IDF (50k most frequent) + the same classifier "
                                      "and threshold tuning",
                       **metrics.aggregate(char_folds, ids, options.repeats)},
    }


def _learning_curve_section(splits: list, by_key: dict, curve_sizes: dict, Y: np.ndarray, ids: list[str],
                            options: EvalOptions) -> list:
    curve = []
    for frac in LEARNING_FRACTIONS:
        fms, sizes = [], []
        for rep, k, tr, te in splits:
            res = by_key[("model", rep, k, frac)]
            fms.append(metrics.compute(Y[te], res["pred"], res["scores"], ids))
            sizes.append(curve_sizes.get((rep, k, frac), len(tr)))
        agg = metrics.aggregate(fms, ids, options.repeats)
        curve.append({"fraction": frac, "train_size": int(np.mean(sizes)),
                      "macro_f1": agg["overall"]["macro_f1"], "micro_f1": agg["overall"]["micro_f1"],
                      "per_topic_f1": {t: agg["per_topic"][t]["f1"] for t in ids}})
    return curve


def cross_validate(
    labels: LabelSet,
    config: TrainConfig,
    options: EvalOptions = EvalOptions(),
    *,
    progress: Callable[[str], None] | None = None,
    cache: TokenCache | None = None,
) -> dict:
    """Run the whole evaluation and return the report dictionary (stable keys).  The labels are taken in id order,
    so the folds (and the report) depend on the label set, not on how its files are named or ordered."""
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    data = EvalInputs.from_labels(labels, options.score_model_chosen)
    ids, examples, texts, groups, assemblies = data.ids, data.examples, data.texts, data.groups, data.assemblies
    Y, chosen, unscored = data.Y, data.chosen, data.unscored

    configured_vectors(config)  # a bad vectors setting is refused before the analysis and the held-out vectors
    if options.corpus is not None and config.features.vectors == "none":
        raise InputError(_CORPUS_UNUSED.format('a config without word vectors (features.vectors = "none")'))
    say(f"analysing {len(texts):,} utterances (cached)")
    t0 = time.perf_counter()
    tokens, cache = analysed_tokens(texts, config, cache)
    tokenize_seconds = time.perf_counter() - t0
    splits = cv_splits(Y, groups, unscored, options, len(texts))

    char_config = config.replace(features={"words": False, "char_ngrams": True, "char_ngram_min": 2,
                                           "char_ngram_max": 3, "max_features": CHAR_BASELINE_FEATURES,
                                           "vectors": "none", "general_vectors": "none"})
    rng = np.random.default_rng(options.seed)
    jobs, keys, curve_sizes = [], [], {}
    for rep, k, tr, te in splits:
        jobs.append(delayed(fit_predict)(config, ids, tokens, texts, groups, Y, tr, te,
                                          explain=options.error_analysis))
        keys.append(("model", rep, k, 1.0))
        if options.learning_curve:
            for frac in LEARNING_FRACTIONS[:-1]:
                sub = group_subsample(tr, groups, frac, rng, minimum=max(2, config.thresholds.folds))
                curve_sizes[(rep, k, frac)] = len(sub)
                jobs.append(delayed(fit_predict)(config, ids, tokens, texts, groups, Y, sub, te, explain=False))
                keys.append(("model", rep, k, frac))
        if options.baselines:
            jobs.append(delayed(fit_predict)(char_config, ids, tokens, texts, groups, Y, tr, te, explain=False))
            keys.append(("char_ngram", rep, k, 1.0))

    loao_splits, loao_skipped, adapt_plan, not_adapted = {}, {}, {}, {}
    if options.loao:
        loao_splits, loao_skipped = plan_held_out(assemblies, groups, unscored, config, options, say)
        adapt_plan, not_adapted = plan_adaptation(loao_splits, groups, options, skipped=loao_skipped,
                                                  n_labels=len(examples), say=say)
        held_out = {}
        if loao_splits and config.features.vectors != "none" and options.loao_vectors == "strict":
            from .heldout_vectors import held_out_vectors

            held_out = held_out_vectors(config, list(loao_splits), options.corpus, n_jobs=options.n_jobs,
                                        progress=say)
        for name, (tr, te) in loao_splits.items():
            jobs.append(delayed(fit_predict)(config, ids, tokens, texts, groups, Y, tr, te, explain=False,
                                              vectors=held_out.get(name)))
            keys.append(("loao", name, 0, 1.0))
        for name, (pool, test, sizes) in adapt_plan.items():
            tr = loao_splits[name][0]
            for k in sizes:  # the same held-out vectors as the assembly's held-out fit: k = 0 is that fit
                jobs.append(delayed(fit_predict)(config, ids, tokens, texts, groups, Y, np.concatenate([tr, pool[:k]]),
                                                  test, explain=False, vectors=held_out.get(name)))
                keys.append(("adapt", name, k, 1.0))

    say(f"fitting {len(jobs)} models ({len(splits)} folds; n_jobs={options.n_jobs})")
    t0 = time.perf_counter()
    results = Parallel(n_jobs=options.n_jobs)(jobs)
    fit_seconds = time.perf_counter() - t0
    by_key = dict(zip(keys, results))

    cv = _cv_section(splits, by_key, Y, ids, examples, options)
    scored = ~unscored
    report = {
        "kind": "cross_validation",
        "created_at": now_iso(),
        "stamp": {
            "config": config.to_dict(),
            "label_set_sha256": labels.sha256,
            "label_count": len(labels),
            "taxonomy_sha256": labels.taxonomy.sha256,
            "libraries": library_versions(),
        },
        "options": dataclasses.asdict(options),
        "topics": ids,
        "label_positives": {t: int(Y[:, j].sum()) for j, t in enumerate(ids)},
        "model_chosen": {"labels": int(chosen.sum()), "scored": bool(options.score_model_chosen)},
        "cv": cv["cv"],
        "folds": cv["folds"],
        "fold_thresholds": cv["fold_thresholds"],
        "pooled": metrics.compute(Y[scored], cv["oof_pred"][scored], cv["oof_scores"][scored], ids),
        "timing": {"tokenize_seconds": round(tokenize_seconds, 2), "fit_seconds": round(fit_seconds, 2),
                   "total_seconds": 0.0, "cache_hits": cache.hits, "cache_misses": cache.misses},
        "error_analysis": cv["errors"] if options.error_analysis else {},
    }
    # PR curves and heatmaps are drawn from the pooled out-of-fold scores
    report["_arrays"] = {"Y": Y[scored], "scores": cv["oof_scores"][scored], "pred": cv["oof_pred"][scored]}
    if options.baselines:
        report["baselines"] = _baselines_section(splits, by_key, Y, ids, options)
    if options.learning_curve:
        report["learning_curve"] = _learning_curve_section(splits, by_key, curve_sizes, Y, ids, options)
    if loao_splits:
        report["leave_one_assembly_out"] = held_out_report(loao_splits, by_key, Y, ids, assemblies, config, options)
        if options.adapt:
            report["adaptation"] = adaptation_report(adapt_plan, not_adapted, by_key, Y, ids, options,
                                                     report["leave_one_assembly_out"]["vectors"])
    if loao_skipped:
        report["not_held_out"] = loao_skipped
    report["timing"]["total_seconds"] = round(time.perf_counter() - started, 2)
    return report
