"""Section 7: CLI start-up: what ``gikai-topics --help`` and a mistyped option cost before any work.

The console script (``gikai-topics`` beside the Python running the bench, else ``python -m train.cli``), with
``PYTHONPATH`` set to this checkout so that it runs this checkout's code whatever the venv's editable install
points at, is started N times for each command line (full run: 15, quick run: 5); the figure is the best run
(the slower ones measure what else the machine was doing).  ``python -c pass`` is the interpreter's own start,
a floor nothing in the CLI can go under.  A last process says which heavy libraries ``--help`` imported: none is
the point (the command modules import the library inside the command functions).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from .common import PYTHON, ROOT, Context, say

RUNS = {"full": 15, "quick": 5}
HEAVY = ("sklearn", "scipy", "numpy", "bentoml", "sudachipy", "joblib", "yaml", "pydantic", "pandas", "pyarrow")
TARGET_S = 0.5  # a fraction of the ~1.4 s that importing the library takes


def console_script() -> list[str]:
    beside = Path(PYTHON).parent / "gikai-topics"
    return [str(beside)] if beside.exists() else [PYTHON, "-m", "train.cli"]


def best_wall(cmd: list[str], runs: int, env: dict) -> tuple[float, float, int]:
    """(best, median, exit code) of ``runs`` starts of ``cmd``, output discarded."""
    times, code = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        code = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=120).returncode
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[0], times[len(times) // 2], code


def loaded_by_help(env: dict) -> dict:
    code = ("import json, sys\n"
            "import train.cli\n"
            "train.cli.main(['--help'])\n"
            f"heavy = {HEAVY!r}\n"
            "print(json.dumps({'modules': len(sys.modules), 'heavy': [m for m in heavy if m in sys.modules]}),"
            " file=sys.stderr)\n")
    r = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, timeout=120, check=True)
    return json.loads(r.stderr.strip().splitlines()[-1])


def run(ctx: Context) -> dict:
    runs = RUNS["quick" if ctx.quick else "full"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    exe = console_script()
    shown = "gikai-topics" if len(exe) == 1 else "python -m train.cli"
    say(f"startup: {runs} starts of each command line ({' '.join(exe)})")
    lines = [("python -c pass", [PYTHON, "-c", "pass"]),
             (f"{shown} --help", [*exe, "--help"]),
             (f"{shown} train --help", [*exe, "train", "--help"]),
             (f"{shown} labels validate --help", [*exe, "labels", "validate", "--help"]),
             (f"{shown} predict --bogus (usage error)", [*exe, "predict", "--bogus"])]
    rows, figures = [], {}
    for name, cmd in lines:
        best, median, code = best_wall(cmd, runs, env)
        figures[name] = {"best_s": best, "median_s": median, "exit_code": code}
        rows.append({"name": name, "value": f"{best:.2f} s", "detail": f"best of {runs}; median {median:.2f} s; "
                                                                      f"exit code {code}"})
    loaded = loaded_by_help(env)
    rows.append({"name": f"modules loaded by {shown} --help", "value": f"{loaded['modules']:,}",
                 "detail": "heavy libraries among them: " + (", ".join(loaded["heavy"]) or "none")})
    help_s = figures[f"{shown} --help"]["best_s"]
    targets = [{"name": f"{shown} --help", "target": f"<= {TARGET_S} s", "value": f"{help_s:.2f} s",
                "met": help_s <= TARGET_S,
                "why": "the interpreter, typer and rich (help formatting) are the floor; see the python -c pass row"}]
    notes = ["A command's --help costs more than the top-level one: typer builds its parameters' converters "
             "with pydantic (~0.1 s)."]
    return {"title": "CLI start-up", "rows": rows, "targets": targets, "notes": notes,
            "method": __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
            "data": {"runs": runs, "figures": figures, "loaded_by_help": loaded}}
