"""Writing evaluation reports: report.json (stable keys), report.md, report.html (offline, plots inline)."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_dir, atomic_write_text, check_writable
from ..errors import InputError


def _fmt(ms: dict | float | None, digits: int = 3) -> str:
    if ms is None:
        return "–"
    if isinstance(ms, dict):
        if ms.get("mean") is None:
            return "–"
        return f"{ms['mean']:.{digits}f} ± {ms['std']:.{digits}f}"
    return f"{ms:.{digits}f}"


def _nan(x: float | None) -> float:
    """A figure for a plot: None (nothing to measure) is left out (NaN), never drawn as 0."""
    return np.nan if x is None else x


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


# --------------------------------------------------------------------------- plots

def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(report: dict) -> dict[str, str]:
    """Base64 PNGs: per-topic F1 with fold spread, PR curves, co-occurrence and confusion heatmaps,
    learning curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    out = {}
    topics = report["topics"]
    arrays = report.get("_arrays")
    if "cv" in report:
        fig, ax = plt.subplots(figsize=(9, 3.8))
        pt = report["cv"]["per_topic"]
        means = [_nan(pt[t]["f1"]["mean"]) for t in topics]  # no positives: no bar (an F1 of 0 is a bar at 0)
        stds = [_nan(pt[t]["f1"]["std"]) for t in topics]
        ax.bar(topics, means, yerr=stds, capsize=3, color="#4C72B0", label="model (CV, ± fold std)")
        if "char_ngram" in report.get("baselines", {}):
            cb = report["baselines"]["char_ngram"]["per_topic"]
            ax.scatter(topics, [_nan(cb[t]["f1"]["mean"]) for t in topics], color="#DD8452", zorder=3,
                       label="char n-gram baseline")
        loao = report.get("leave_one_assembly_out")
        if loao:
            held = [loao["pooled"]["per_topic"][t]["f1"] for t in topics]  # None: no positives held out
            ax.scatter(topics, [_nan(f) for f in held], marker="x", color="black",
                       zorder=3, label="held-out assemblies")
        ax.set_ylim(0, 1)
        ax.set_ylabel("F1")
        ax.set_title("Per-topic F1")
        ax.tick_params(axis="x", rotation=45)
        ax.legend(fontsize=8, loc="lower right")
        out["per_topic_f1"] = _png(fig)
    if arrays is not None:
        Y, S, P = arrays["Y"], arrays["scores"], arrays["pred"]
        fig, axes = plt.subplots(3, 5, figsize=(13, 7.5), sharex=True, sharey=True)
        for ax, (j, t) in zip(axes.ravel(), enumerate(topics)):
            if Y[:, j].sum():
                prec, rec, _ = precision_recall_curve(Y[:, j], S[:, j])
                ax.plot(rec, prec, color="#4C72B0")
            ax.set_title(t, fontsize=9)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
        for ax in axes.ravel()[len(topics):]:
            ax.axis("off")
        fig.supxlabel("recall")
        fig.supylabel("precision")
        fig.suptitle("Precision–recall curves (" + ("scores on the test file" if report.get("kind") == "test_set"
                                                     else "pooled out-of-fold scores") + ")")
        out["pr_curves"] = _png(fig)

        fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
        co = (Y.T.astype(int) @ Y.astype(int)).astype(float)
        conf = np.zeros((len(topics), len(topics)))
        for a in range(len(topics)):
            rows = Y[:, a] == 1
            if rows.any():
                conf[a] = P[rows].mean(axis=0)
        for ax, mat, title, fmt in ((axes[0], co, "label co-occurrence (count)", "{:.0f}"),
                                    (axes[1], conf, "true topic (row) → share predicted as (column)", "{:.2f}")):
            ax.imshow(mat, cmap="Blues")
            ax.set_xticks(range(len(topics)), topics, rotation=90, fontsize=8)
            ax.set_yticks(range(len(topics)), topics, fontsize=8)
            ax.set_title(title, fontsize=10)
            for a in range(len(topics)):
                for b in range(len(topics)):
                    ax.text(b, a, fmt.format(mat[a, b]), ha="center", va="center", fontsize=6,
                            color="white" if mat[a, b] > mat.max() * 0.6 else "black")
        out["heatmaps"] = _png(fig)
    if report.get("learning_curve"):
        lc = report["learning_curve"]
        fig, ax = plt.subplots(figsize=(9, 4))
        sizes = [p["train_size"] for p in lc]
        for t in topics:
            ax.plot(sizes, [_nan(p["per_topic_f1"][t]["mean"]) for p in lc], color="#999999", lw=0.8, alpha=0.6)
            if lc[-1]["per_topic_f1"][t]["mean"] is not None:
                ax.annotate(t, (sizes[-1], lc[-1]["per_topic_f1"][t]["mean"]), fontsize=7, color="#666666")
        ax.plot(sizes, [_nan(p["macro_f1"]["mean"]) for p in lc], color="#C44E52", lw=2.5, marker="o",
                label="macro-F1")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("training examples (log scale)")
        ax.set_ylabel("F1")
        ax.set_ylim(0, 1)
        ax.set_title("Learning curve: does labeling more pay?")
        ax.legend(loc="lower right")
        out["learning_curve"] = _png(fig)
    return out


# --------------------------------------------------------------------------- writers

def to_json(report: dict) -> str:
    clean = {k: v for k, v in report.items() if not k.startswith("_")}
    return json.dumps(clean, ensure_ascii=False, indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


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


def title(report: dict) -> str:
    return f"gikai-topics evaluation ({report['kind'].replace('_', ' ')})"


def to_markdown(report: dict) -> str:
    st = report["stamp"]
    parts = [f"# {title(report)}", "",
             f"Created {report['created_at']} · labels {st['label_count']:,} (sha256 {st['label_set_sha256'][:12]}) · "
             f"taxonomy sha256 {st['taxonomy_sha256'][:12]}", ""]
    parts += ["## Headline", "", _md_table(HEADLINE_HEADER,
                                           [list(r) for r in headline_rows(report)]), ""]
    for line in notes(report):
        parts += [line, ""]
    if "cv" in report:
        parts += ["## Overall (mean ± std over folds)", "", _md_table(OVERALL_HEADER, overall_rows(report)), ""]
    parts += ["## Per topic", "", _md_table(per_topic_header(report), per_topic_rows(report)), ""]
    if report.get("learning_curve"):
        parts += ["## Learning curve", "", _md_table(LEARNING_CURVE_HEADER, learning_curve_rows(report)), ""]
    if report.get("adaptation"):
        parts += ["## Adapting to a held-out assembly", "", adaptation_note(report), "",
                  _md_table(ADAPTATION_HEADER, adaptation_rows(report)), ""]
    if report.get("folds"):
        parts += ["## Folds", "", _md_table(FOLDS_HEADER, fold_table_rows(report)), ""]
    if report.get("error_analysis"):
        parts += ["## Error analysis (worst per topic)", ""]
        for t, rows in report["error_analysis"].items():
            if not rows:
                continue
            parts += [f"### {t}", ""]
            for r in rows:
                terms = ", ".join(f"{w} ({c:+.2f})" for w, c in r["terms"]) or "–"
                kind = "FP" if r["kind"] == "false_positive" else "FN"
                parts.append(f"- **{kind}** score {r['score']:.2f} (threshold {r['threshold']:.2f}), labels "
                             f"{r['labels'] or '[]'}: {r['snippet']} — terms: {terms}")
            parts.append("")
    parts += ["## Stamp", "", "```json", json.dumps(st, ensure_ascii=False, indent=2), "```", ""]
    return "\n".join(parts)


_CSS = """body{font-family:system-ui,-apple-system,'Hiragino Sans','Noto Sans JP',sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.45}table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;
padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}
details{margin:.3em 0}code,pre{background:#f5f5f5}.muted{color:#777}"""


def _html_table(header, rows) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


def to_html(report: dict, images: dict[str, str]) -> str:
    st = report["stamp"]
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title(report))}"
             f"</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title(report))}</h1><p class='muted'>{html.escape(report['created_at'])} · "
             f"{st['label_count']:,} labels (sha256 {st['label_set_sha256'][:12]}) · taxonomy "
             f"{st['taxonomy_sha256'][:12]}</p>",
             "<h2>Headline</h2>", _html_table(HEADLINE_HEADER, headline_rows(report))]
    parts += [f"<p>{html.escape(line)}</p>" for line in notes(report)]
    if "cv" in report:
        parts += ["<h2>Overall (mean ± std over folds)</h2>", _html_table(OVERALL_HEADER, overall_rows(report))]
    if "per_topic_f1" in images:
        parts.append(f"<img alt='per-topic F1' src='data:image/png;base64,{images['per_topic_f1']}'>")
    parts += ["<h2>Per topic</h2>", _html_table(per_topic_header(report), per_topic_rows(report))]
    if report.get("learning_curve"):  # the figures as well as the plot, as in report.md
        parts += ["<h2>Learning curve</h2>", _html_table(LEARNING_CURVE_HEADER, learning_curve_rows(report))]
        if "learning_curve" in images:
            parts.append(f"<img alt='Learning curve' src='data:image/png;base64,{images['learning_curve']}'>")
    for key, heading in (("pr_curves", "Precision–recall"), ("heatmaps", "Co-occurrence and confusion")):
        if key in images:
            parts.append(f"<h2>{heading}</h2><img alt='{heading}' src='data:image/png;base64,{images[key]}'>")
    if report.get("adaptation"):
        parts += ["<h2>Adapting to a held-out assembly</h2>", f"<p>{html.escape(adaptation_note(report))}</p>",
                  _html_table(ADAPTATION_HEADER, adaptation_rows(report))]
    if report.get("folds"):
        parts += ["<h2>Folds</h2>", _html_table(FOLDS_HEADER, fold_table_rows(report))]
    if report.get("error_analysis"):
        parts.append("<h2>Error analysis</h2>")
        for t, rows in report["error_analysis"].items():
            if not rows:  # as report.md: a topic without errors to show has no entry
                continue
            items = "".join(
                f"<li><b>{'FP' if r['kind'] == 'false_positive' else 'FN'}</b> {r['score']:.2f} "
                f"(thr {r['threshold']:.2f}) labels {html.escape(str(r['labels']))}: {html.escape(r['snippet'])} "
                f"<span class='muted'>terms: {html.escape(', '.join(f'{w} {c:+.2f}' for w, c in r['terms']))}</span></li>"
                for r in rows)
            parts.append(f"<details><summary>{html.escape(t)} ({len(rows)})</summary><ul>{items}</ul></details>")
    parts.append(f"<h2>Stamp</h2><pre>{html.escape(json.dumps(st, ensure_ascii=False, indent=2))}</pre></body></html>")
    return "\n".join(parts)


REPORT_FILES = ("report.json", "report.md", "report.html")


def check_report_dir(out: Path) -> None:
    """``out`` can take the reports: a new folder, or one that holds nothing but earlier reports
    (it is replaced as a whole, so anything else in it would be lost)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file; expected a folder for {', '.join(REPORT_FILES)}")
    if out.is_dir():
        other = sorted(p.name for p in out.iterdir() if p.name not in REPORT_FILES)
        if other:
            raise InputError(f"--out {out}: holds other files ({', '.join(other[:5])}), which replacing the reports "
                             "would delete; choose a new folder or one with only earlier reports")
    check_writable(out / REPORT_FILES[0], "--out")


def write_reports(report: dict, out: Path) -> Path:
    """Write report.json, report.md and report.html into ``out`` (atomically, as one directory)."""
    check_report_dir(out)
    images = plots(report)
    with atomic_dir(out) as tmp:
        atomic_write_text(tmp / "report.json", to_json(report))
        atomic_write_text(tmp / "report.md", to_markdown(report))
        atomic_write_text(tmp / "report.html", to_html(report, images))
    return out
