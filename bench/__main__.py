"""``python -m bench [--quick] [--sections a,b,...]``: run the benchmarks, print a table, rewrite docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import SECTIONS

BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true",
                    help="reduced sizes and short load phases (~5 minutes); the figures say so")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated subset of: {', '.join(SECTIONS)} (default: all)")
    ap.add_argument("--out", default=None, help="markdown file to rewrite (default: docs/BENCHMARKS.md)")
    ap.add_argument("--no-write", action="store_true", help="print the table only; leave docs/ alone")
    ap.add_argument("--json", default=None, help="also write the raw results here")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp folder (logs, models) for inspection")
    args = ap.parse_args(argv)
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown or not wanted:
        ap.error(f"--sections: unknown {unknown}; expected some of {', '.join(SECTIONS)}")
    args.section_list = [s for s in SECTIONS if s in wanted]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="gikai-bench-"))
    # before anything imports bentoml or train: the bench never touches the user's store or cache
    os.environ["BENTOML_HOME"] = str(tmp / "bentoml")
    os.environ["GIKAI_TOPICS_CACHE"] = str(tmp / "cache")
    os.environ["BENTOML_DO_NOT_TRACK"] = "true"
    os.environ["GIKAI_BENCH_TMP"] = str(tmp)
    # One BLAS thread in every process the bench starts (unless the caller chose otherwise): liblinear's
    # level-1 BLAS calls slow down ~100x with OpenBLAS's default threads whenever something else keeps the
    # cores busy, which made fit timings depend on whatever else ran on the machine.
    for var in BLAS_VARS:
        os.environ.setdefault(var, "1")

    from .common import ROOT, Context, cpu_delta, cpu_snapshot, library_versions, loadavg, machine_info, say
    from .render import render_markdown, render_table

    started = time.perf_counter()
    ctx = Context(tmp=tmp, quick=args.quick, sections=args.section_list)
    command = "python -m bench" + (" --quick" if args.quick else "") + (
        f" --sections {','.join(args.section_list)}" if args.section_list != list(SECTIONS) else "")
    meta = {"mode": "quick" if args.quick else "full", "command": command,
            "started_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
            "machine": machine_info(), "libraries": library_versions(), "load": {"start": loadavg()},
            "sections_run": args.section_list, "env": {v: os.environ[v] for v in BLAS_VARS}}
    from train.versions import git_commit

    meta["git_commit"] = git_commit()
    results = {"meta": meta, "sections": {}}
    say(f"{meta['mode']} run of {', '.join(args.section_list)}; temp folder {tmp}")
    try:
        for name in args.section_list:
            t0 = time.perf_counter()
            l0 = loadavg()
            cpu0 = cpu_snapshot()
            say(f"=== {name} ===")
            try:
                mod = importlib.import_module(f"bench.{name}")
                sec = mod.run(ctx)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                tb = traceback.format_exc()
                say(f"{name} FAILED: {type(exc).__name__}: {exc}")
                sec = {"title": name, "error": tb[-4000:]}
            sec["seconds"] = time.perf_counter() - t0
            sec["load"] = [l0, loadavg()]
            sec["cpu"] = cpu_delta(cpu0, cpu_snapshot(), sec["seconds"])
            results["sections"][name] = sec
            say(f"{name} done in {sec['seconds']:.0f} s")
    finally:
        meta["seconds"] = time.perf_counter() - started
        meta["load"]["end"] = loadavg()
        if args.keep_tmp:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    table = render_table(results)
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    if not args.no_write:
        out = Path(args.out) if args.out else ROOT / "docs" / "BENCHMARKS.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_markdown(results), encoding="utf-8")
        say(f"wrote {out}")
    failed = [n for n, s in results["sections"].items() if "error" in s]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
