"""Leave-one-assembly-out: which assemblies are held out, the adaptation curve's pools, and their report sections.

The fits themselves are run by :func:`train.evaluation.cv.cross_validate` beside the CV folds; this module plans
what they train and test on and turns their results into the report's ``leave_one_assembly_out`` and
``adaptation`` sections.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import numpy as np

from ..config import TrainConfig
from ..corpus import UNKNOWN_ASSEMBLY
from ..errors import InputError
from . import metrics

#: the share of a held-out assembly's near-duplicate groups whose labels the adaptation curve may train on
ADAPT_POOL_FRACTION = 0.25


def plan_held_out(assemblies: list[str], groups: list[str], unscored: np.ndarray, config: TrainConfig, options,
                  say: Callable[[str], None]) -> tuple[dict, dict]:
    """Per assembly that can be held out, its (train, test) indices, largest first; and why each other assembly
    is not held out (the report says so)."""
    # what each could be scored on; labels without a municipality train every held-out fold but are not an
    # assembly one can hold out (nor one whose text strict vectors could leave out)
    counts = Counter(a for a, u in zip(assemblies, unscored) if not u and a != UNKNOWN_ASSEMBLY)
    chosen_in = Counter(a for a, u in zip(assemblies, unscored) if u and a != UNKNOWN_ASSEMBLY)
    splits, skipped = {}, {}
    for name in sorted(set(counts) | set(chosen_in), key=lambda a: (-counts[a], a)):
        n = counts[name]
        if n < options.loao_min_labels:  # said, not dropped without a word: the reader counts the assemblies
            skipped[name] = (
                f"expected at least {options.loao_min_labels} labels to score, found {n}"
                + (f" (and {chosen_in[name]:,} chosen by a model's uncertainty, which are not scored)"
                   if chosen_in[name] else "")
                + "; its labels train every held-out fold")
            say(f"not holding out {name}: {skipped[name]}")
            continue
        held = [i for i, a in enumerate(assemblies) if a == name]
        held_groups = {groups[i] for i in held}
        tr = np.asarray([i for i, a in enumerate(assemblies) if a != name and groups[i] not in held_groups])
        # a fit needs enough distinct utterances for its threshold folds; too few → not held out (it
        # would fail after every CV fit, blaming --folds)
        need = max(config.thresholds.folds, options.loao_min_labels)
        distinct = len({groups[i] for i in tr})
        if distinct < need:
            skipped[name] = (f"expected at least {need} distinct utterances outside it to train on, found "
                             f"{distinct}; label more in the other assemblies to hold it out")
            say(f"not holding out {name}: {skipped[name]}")
            continue
        splits[name] = (tr, np.asarray([i for i in held if not unscored[i]]))
    return splits, skipped


def plan_adaptation(loao_splits: dict, groups, options, *, skipped: dict, n_labels: int,
                    say: Callable[[str], None]) -> tuple[dict, dict]:
    """Per held-out assembly: (pool, test, sizes).  A quarter of its near-duplicate groups (ADAPT_POOL_FRACTION)
    hold the labels a fit may add, in a fixed random order; the rest are the test set of every size, so the
    rows of one assembly are comparable.  Sizes past the pool are cut to it (once).

    Also returns why each assembly that is not in the plan was left out (the report says so); ``--adapt`` with
    nothing to show is refused before any fit."""
    plan, left_out = {}, {}
    if not options.adapt:
        return plan, left_out
    rng = np.random.default_rng(options.seed)
    for name, (_, te) in loao_splits.items():
        gs = sorted({groups[i] for i in te})
        rng.shuffle(gs)
        pool_groups = set(gs[: int(len(gs) * ADAPT_POOL_FRACTION)])
        pool = np.asarray([i for i in te if groups[i] in pool_groups], dtype=int)
        test = np.asarray([i for i in te if groups[i] not in pool_groups], dtype=int)
        if len(pool) == 0 or len(test) == 0:  # too few groups to split into a pool and a test set
            need = int(np.ceil(1 / ADAPT_POOL_FRACTION))
            left_out[name] = (f"expected at least {need} distinct utterances to set {ADAPT_POOL_FRACTION:.0%} aside "
                              f"for training and score the rest, found {len(gs)} (its {len(te):,} scored labels, "
                              "near-duplicates counted once)")
            continue
        rng.shuffle(pool)
        sizes = sorted({min(k, len(pool)) for k in options.adapt})
        plan[name] = (pool, test, sizes)
    for name, why in left_out.items():
        say(f"not adapting to {name}: {why}")
    if not plan:  # asked for, and nothing to show
        why = "; ".join(f"{n}: {r}" for n, r in {**skipped, **left_out}.items()) or \
            f"all {n_labels:,} labels lack a municipality"
        raise InputError(
            f"--adapt {','.join(map(str, options.adapt))}: expected a held-out assembly to refit with some of "
            f"its own labels, found none ({why}); label more of an assembly, or drop --adapt")
    return plan, left_out


def vectors_note(config: TrainConfig, options) -> str:
    """Which word vectors the held-out fits used, as the report states it."""
    return "; ".join(
        (["strict: word vectors re-learned without the held-out assembly's text"
          if options.loao_vectors == "strict" else
          "shared: the configured word vectors (they include the held-out assembly's unlabeled text)"]
         if config.features.vectors != "none" else [])
        + (["general-domain vectors (chiVe, learned from web text, not minutes) as configured"]
           if config.features.general_vectors != "none" else [])) or "none"


def held_out_report(loao_splits: dict, by_key: dict, Y: np.ndarray, ids: list[str], assemblies: list[str],
                    config: TrainConfig, options) -> dict:
    """The report's ``leave_one_assembly_out`` section."""
    per = {}
    Yp, Pp, Sp = [], [], []
    for name, (tr, _) in loao_splits.items():
        res = by_key[("loao", name, 0, 1.0)]
        te = res["test_idx"]
        m = metrics.compute(Y[te], res["pred"], res["scores"], ids)
        m["overall"]["train"] = int(len(tr))
        per[name] = m
        Yp.append(Y[te]), Pp.append(res["pred"]), Sp.append(res["scores"])
    return {
        "min_labels": options.loao_min_labels,
        "vectors": vectors_note(config, options),
        "assemblies": per,
        "without_assembly": sum(a == UNKNOWN_ASSEMBLY for a in assemblies),
        "pooled": metrics.compute(np.vstack(Yp), np.vstack(Pp), np.vstack(Sp), ids),
        # an assembly without a single positive has no macro-F1 (None): it is left out of the mean, not 0
        "mean_macro_f1": metrics.mean_std([per[n]["overall"]["macro_f1"] for n in loao_splits])["mean"],
    }


def adaptation_report(plan: dict, not_adapted: dict, by_key: dict, Y: np.ndarray, ids: list[str],
                      options, vectors: str) -> dict:
    """The report's ``adaptation`` section: per assembly, macro-F1 on its test part with 0 and k own labels."""
    out = {"pool_fraction": ADAPT_POOL_FRACTION, "requested": list(options.adapt), "vectors": vectors,
           "assemblies": {}, "not_adapted": dict(not_adapted)}
    for name, (pool, test, sizes) in plan.items():
        base = by_key[("loao", name, 0, 1.0)]
        where = {int(i): j for j, i in enumerate(base["test_idx"])}
        rows_at = [where[int(i)] for i in test]
        runs = [(0, {"pred": base["pred"][rows_at], "scores": base["scores"][rows_at]})]
        runs += [(k, by_key[("adapt", name, k, 1.0)]) for k in sizes]
        rows = []
        for k, res in runs:
            m = metrics.compute(Y[test], res["pred"], res["scores"], ids)
            rows.append({"labels": int(k), "macro_f1": m["overall"]["macro_f1"], "micro_f1": m["overall"]["micro_f1"],
                         "per_topic_f1": {t: m["per_topic"][t]["f1"] for t in ids}})
        out["assemblies"][name] = {"pool": int(len(pool)), "test": int(len(test)), "rows": rows}
    return out
