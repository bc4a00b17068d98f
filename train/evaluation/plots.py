"""The evaluation reports' plots, as base64 PNGs for report.html to hold inline (matplotlib, drawn off-screen)."""

from __future__ import annotations

import base64
import io

import numpy as np


def _nan(x: float | None) -> float:
    """A figure for a plot: None (nothing to measure) is left out (NaN), never drawn as 0."""
    return np.nan if x is None else x


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
