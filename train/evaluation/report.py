"""Writing evaluation reports: report.json (stable keys), report.md, report.html (offline, plots inline).

The rows and notes report.md and report.html both show come from :mod:`train.evaluation.tables`, the plots
from :mod:`train.evaluation.plots`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from ..atomic import atomic_dir, atomic_write_text, check_writable
from ..errors import InputError
from .plots import plots
from .tables import (ADAPTATION_HEADER, FOLDS_HEADER, HEADLINE_HEADER, LEARNING_CURVE_HEADER, OVERALL_HEADER,
                     adaptation_note, adaptation_rows, fold_table_rows, headline_rows, learning_curve_rows, notes,
                     overall_rows, per_topic_header, per_topic_rows)


def to_json(report: dict) -> str:
    clean = {k: v for k, v in report.items() if not k.startswith("_")}
    return json.dumps(clean, ensure_ascii=False, indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


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
