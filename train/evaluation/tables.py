"""What the evaluation reports say, as rows of text and sentences: the headline (also printed by ``gikai-topics
evaluate``), per-topic, overall, learning-curve, adaptation and fold tables, and the notes on how to read them.
report.md and report.html (:mod:`train.evaluation.report`) lay out the same rows.
"""

from __future__ import annotations


def _fmt(ms: dict | float | None, digits: int = 3) -> str:
    if ms is None:
        return "–"
    if isinstance(ms, dict):
        if ms.get("mean") is None:
            return "–"
        return f"{ms['mean']:.{digits}f} ± {ms['std']:.{digits}f}"
    return f"{ms:.{digits}f}"


def headline_rows(report: dict) -> list[tuple[str, str, str, str]]:
    """(what, macro-F1, micro-F1, note) rows for the CLI and the reports."""
    rows = []
    if "cv" in report:
        o = report["cv"]["overall"]
        rows.append(("model, CV", _fmt(o["macro_f1"]), _fmt(o["micro_f1"]), f"{report['cv']['folds']} folds" + (f" × {report['cv']['repeats']} repeats"
                                                               if report['cv'].get('repeats', 1) > 1 else "")))
        for name, b in report.get("baselines", {}).items():
            rows.append((f"baseline: {name}", _fmt(b["overall"]["macro_f1"]), _fmt(b["overall"]["micro_f1"]),
                         b["description"]))
    loao = report.get("leave_one_assembly_out")
    if loao:
        p = loao["pooled"]["overall"]
        rows.append(("held-out assemblies, pooled", _fmt(p["macro_f1"]), _fmt(p["micro_f1"]),
                     f"{len(loao['assemblies'])} assemblies; mean of per-assembly macro "
                     f"{_fmt(loao['mean_macro_f1'])}; word vectors: {loao.get('vectors', 'none')}"
                     + (f"; {loao['without_assembly']:,} labels without a municipality are never held out (they "
                        "train the held-out folds)" if loao.get("without_assembly") else "")))
        for name, m in loao["assemblies"].items():
            rows.append((f"  held out: {name}", _fmt(m["overall"]["macro_f1"]), _fmt(m["overall"]["micro_f1"]),
                         f"n={m['overall']['n']}, topics present {m['overall']['topics_with_support']}"))
    if report.get("kind") == "test_set":
        o = report["test"]["overall"]
        rows.append(("model on test file", _fmt(o["macro_f1"]), _fmt(o["micro_f1"]), f"n={o['n']}"))
    return rows


HEADLINE_HEADER = ["evaluation", "macro-F1", "micro-F1", "note"]


def per_topic_header(report: dict) -> list[str]:
    """The columns of :func:`per_topic_rows` (a saved model's test has no held-out column)."""
    header = ["topic", "precision", "recall", "F1", "support", "PR-AUC"]
    return header if report.get("kind") == "test_set" else header + ["F1 held-out assemblies"]


def per_topic_rows(report: dict) -> list[list[str]]:
    rows = []
    if report.get("kind") == "test_set":
        for t, m in report["test"]["per_topic"].items():
            rows.append([t, _fmt(m["precision"]), _fmt(m["recall"]), _fmt(m["f1"]), str(m["support"]),
                         _fmt(m["average_precision"])])
        return rows
    loao = report.get("leave_one_assembly_out", {}).get("pooled", {}).get("per_topic", {})
    for t, m in report["cv"]["per_topic"].items():
        rows.append([t, _fmt(m["precision"]), _fmt(m["recall"]), _fmt(m["f1"]), str(m["support"]),
                     _fmt(m["average_precision"]), _fmt(loao.get(t, {}).get("f1"))])
    return rows


def notes(report: dict) -> list[str]:
    """What the figures leave out or how to read them: the same sentences in report.md and report.html."""
    out = []
    mc = report.get("model_chosen") or {}
    if report.get("kind") == "test_set":
        out.append(f"Figures of the saved model {report.get('model', '?')} on the labeled test file "
                   f"{report.get('test_file', '?')}, at the model's own thresholds.")
        overlap = report.get("overlap") or {}
        if overlap and not overlap.get("checked"):
            out.append("The model does not record its training utterances (it was saved before they were "
                       "recorded), so test labels repeating them could not be left out: the figures may be too "
                       "high. Retrain the model to have them checked.")
        if overlap.get("excluded"):
            out.append(f"{overlap['excluded']:,} of the file's {overlap['test_items']:,} labels repeat utterances "
                       "the model was trained on; they are not scored.")
        if mc.get("labels"):
            out.append(f"{mc['labels']:,} of the file's labels were chosen for labeling by a model's uncertainty "
                       "(`labels pool`). " + ("They are scored like the rest." if mc.get("scored") else
                                             "They are not scored: the figures are on the other labels "
                                             "(`--score-model-chosen` scores them too)."))
        return out
    out.append("CV figures are mean ± standard deviation over folds; thresholds are tuned inside each training fold. "
               "The held-out-assembly rows train on every other assembly: the honest figure for a council the model "
               "has never seen.")
    if mc.get("labels"):
        out.append(f"{mc['labels']:,} labels were chosen for labeling by a model's uncertainty (`labels pool`). "
                   + ("They are scored like the rest." if mc.get("scored") else
                      "They train every fold but are never scored: test figures are on the other labels "
                      "(`--score-model-chosen` scores them too)."))
    for name, why in (report.get("not_held_out") or {}).items():
        out.append(f"Not held out: {name}, {why}.")
    return out


def adaptation_rows(report: dict) -> list[list[str]]:
    ad = report.get("adaptation") or {}
    rows = []
    for name, a in ad.get("assemblies", {}).items():
        for r in a["rows"]:
            size = f"{r['labels']:,}" + (" (all of the pool)" if r["labels"] == a["pool"] and r["labels"] else "")
            rows.append([name, size, _fmt(r["macro_f1"]), _fmt(r["micro_f1"]), f"{a['test']:,}"])
    return rows


ADAPTATION_HEADER = ["held-out assembly", "its labels in training", "macro-F1", "micro-F1", "scored on"]


def adaptation_note(report: dict) -> str:
    ad = report["adaptation"]
    return (f"Each held-out assembly's fold refitted with some of its own labels, drawn at random from "
            f"{ad['pool_fraction']:.0%} of its near-duplicate groups; every row of an assembly is scored on the "
            f"labels of its other groups (0 = the held-out fit above, on those labels). Vectors: {ad['vectors']}."
            + "".join(f" Not adapted: {name}, {why}." for name, why in (ad.get("not_adapted") or {}).items()))


OVERALL_HEADER = ["metric", "value"]
LEARNING_CURVE_HEADER = ["fraction of training folds", "examples", "macro-F1", "micro-F1"]
FOLDS_HEADER = ["repeat", "fold", "train", "test", "macro-F1", "micro-F1", "fit s"]


def overall_rows(report: dict) -> list[list[str]]:
    """CV's overall figures, mean ± std over folds (report.md and report.html show the same rows)."""
    return [[k, _fmt(v)] for k, v in report["cv"]["overall"].items()] if "cv" in report else []


def learning_curve_rows(report: dict) -> list[list[str]]:
    return [[f"{p['fraction']:.3g}", str(p["train_size"]), _fmt(p["macro_f1"]), _fmt(p["micro_f1"])]
            for p in report.get("learning_curve") or []]


def fold_table_rows(report: dict) -> list[list[str]]:
    return [[str(f["repeat"]), str(f["fold"]), str(f["train"]), str(f["test"]), _fmt(f["macro_f1"]),
             _fmt(f["micro_f1"]), f"{f['fit_seconds']:.1f}"] for f in report.get("folds") or []]
