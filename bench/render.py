"""Rendering a run's results: a compact text table (stdout) and docs/BENCHMARKS.md.

A result dictionary looks like::

    {"meta": {"mode": "full" | "quick", "command": str, "started_at": str, "seconds": float,
              "git_commit": str | None, "machine": {...}, "libraries": {...}, "load": {...}},
     "sections": {"analyzer": {"title": str, "rows": [{"name", "value", "detail"}],
                               "targets": [{"name", "target", "value", "met", "why"}],
                               "notes": [str], "seconds": float},
                  "serving": {"title": str, "error": str}, ...}}
"""

from __future__ import annotations

import textwrap

from . import SECTIONS


def _ordered(results: dict) -> list[tuple[str, dict]]:
    secs = results.get("sections", {})
    order = [s for s in SECTIONS if s in secs] + [s for s in secs if s not in SECTIONS]
    return [(s, secs[s]) for s in order]


def all_targets(results: dict) -> list[dict]:
    out = []
    for name, sec in _ordered(results):
        for t in sec.get("targets", []):
            out.append({"section": name, **t})
    return out


def _status(met) -> str:
    return "met" if met else "MISSED"


def _cut(s: str, width: int) -> str:
    return s if len(s) <= width else s[: width - 1] + "…"


def render_table(results: dict) -> str:
    """The compact table printed at the end of a run."""
    meta = results.get("meta", {})
    lines = [f"gikai-topics benchmarks ({meta.get('mode', '?')} run, {meta.get('seconds', 0) / 60:.1f} min)"]
    w1, w2 = 50, 34
    lines.append(f"{'measure':<{w1}} {'value':<{w2}}")
    lines.append("-" * (w1 + w2 + 1))
    for name, sec in _ordered(results):
        lines.append(f"[{sec.get('title', name)}]")
        if "error" in sec:
            lines.append(f"  FAILED: {_cut(sec['error'].strip().splitlines()[-1] if sec['error'].strip() else '', 90)}")
            continue
        for row in sec.get("rows", []):
            lines.append(f"{_cut('  ' + row['name'], w1):<{w1}} {_cut(row['value'], w2):<{w2}}")
    targets = all_targets(results)
    if targets:
        lines.append("")
        lines.append(f"{'target':<44} {'goal':<15} {'measured':<26} status")
        lines.append("-" * 95)
        for t in targets:
            lines.append(f"{_cut(t['name'], 44):<44} {_cut(t['target'], 15):<15} {_cut(t['value'], 26):<26} "
                         f"{_status(t['met'])}")
    return "\n".join(lines)


def _md_escape(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def render_markdown(results: dict) -> str:
    meta = results.get("meta", {})
    mode = meta.get("mode", "?")
    machine = meta.get("machine", {})
    out = ["# Benchmarks", ""]
    out.append(f"These figures come from a **{mode} run** of `{meta.get('command', 'python -m bench')}`, started "
               f"{meta.get('started_at', '?')}, which took {meta.get('seconds', 0) / 60:.1f} minutes "
               f"(git commit `{meta.get('git_commit') or 'unknown'}`).")
    if mode == "quick":
        out.append("")
        out.append("**Quick run: reduced sizes (see the notes under each section); run `python -m bench` for the "
                   "full figures.**")
    run_sections = meta.get("sections_run")
    if run_sections and list(run_sections) != list(SECTIONS):
        out.append("")
        out.append(f"Sections in this run: {', '.join(run_sections)} (others not run).")
    out += ["", "Regenerate with `.venv/bin/python -m bench` (full) or `.venv/bin/python -m bench --quick`; "
                "`--sections analyzer,serving` runs some sections only. Every run rewrites this file.", ""]

    out += ["## Machine", "", "| | |", "|---|---|",
            f"| CPU | {_md_escape(machine.get('cpu_model', '?'))} |",
            f"| cores | {machine.get('cores', '?')} |",
            f"| memory | {machine.get('memory_gb', '?')} GB |",
            f"| OS | {_md_escape(machine.get('os', '?'))} |"]
    load = meta.get("load", {})
    if load:
        out.append(f"| 1-min load average | {load.get('start', '?')} at start, {load.get('end', '?')} at end |")
    out += ["", "Libraries: " + ", ".join(f"{k} {v}" for k, v in meta.get("libraries", {}).items()) + ".", ""]

    targets = all_targets(results)
    out += ["## Targets", ""]
    if targets:
        out += ["| target | goal | measured | status |", "|---|---|---|---|"]
        for t in targets:
            out.append(f"| {_md_escape(t['name'])} | {_md_escape(t['target'])} | {_md_escape(t['value'])} | "
                       f"{'met' if t['met'] else '**missed**'} |")
        missed = [t for t in targets if not t["met"]]
        if missed:
            out += ["", "What limits the missed targets:", ""]
            for t in missed:
                out.append(f"- **{_md_escape(t['name'])}** ({_md_escape(t['value'])}, goal {_md_escape(t['target'])}): "
                           f"{t.get('why') or 'see the section below'}.")
    else:
        out.append("No target was measured in this run.")
    out.append("")

    for name, sec in _ordered(results):
        out += [f"## {sec.get('title', name)}", ""]
        if sec.get("seconds") is not None:
            load_s = sec.get("load")
            extra = f"; 1-min load average {load_s[0]} → {load_s[1]}" if load_s else ""
            cpu = sec.get("cpu")
            if cpu and cpu.get("capacity_s"):
                extra += (f"; CPU used by other processes on the machine meanwhile: {cpu['others_s']:.0f} of "
                          f"{cpu['capacity_s']:.0f} core-seconds ({100 * cpu['others_s'] / cpu['capacity_s']:.0f}%)")
            out += [f"_Section `{name}`: {sec['seconds']:.0f} s wall{extra}._", ""]
        if "error" in sec:
            out += ["**This section failed:**", "", "```", textwrap.shorten(sec["error"], 3000), "```", ""]
            continue
        out += ["| measure | value | detail |", "|---|---|---|"]
        for row in sec.get("rows", []):
            out.append(f"| {_md_escape(row['name'])} | {_md_escape(row['value'])} | {_md_escape(row.get('detail', ''))} |")
        out.append("")
        for note in sec.get("notes", []):
            out.append(f"- {note}")
        if sec.get("notes"):
            out.append("")
        if sec.get("method"):
            out += [sec["method"].strip(), ""]
    out += ["## How the figures are taken", "",
            "- Everything the bench creates (BentoML store, token caches, models, data files, server logs) lives in "
            "a private temp folder (`BENTOML_HOME` and `GIKAI_TOPICS_CACHE` point into it) that is removed at the "
            "end; the user's store and cache are never touched.",
            "- Each timed measurement runs in a fresh Python process holding only what it needs; peak memory is "
            "that process's peak RSS (getrusage), or for servers the summed RSS of the server's process tree "
            "(psutil, sampled every 0.2 s).",
            "- Servers listen on 127.0.0.1 only, on free ports, and are stopped by process group when their "
            "section ends.",
            "- The machine has 2 cores shared by everything that runs: the load generator and the server compete "
            "for them, and so does any other work on the machine. Each section states how much CPU other "
            "processes used while it ran (system-wide busy time minus the bench's own processes; approximate): "
            "figures from a section where that share is high are slower than the code is.",
            f"- Every process the bench starts runs with "
            f"{', '.join(f'{k}={v}' for k, v in meta.get('env', {}).items()) or 'one BLAS thread'}: with "
            "OpenBLAS's default of one thread per core, scikit-learn's liblinear fits (which call BLAS level-1 "
            "routines) ran up to ~100x slower whenever another process kept the cores busy, so fit times measured "
            "the neighbours rather than the code.",
            ""]
    return "\n".join(out)
