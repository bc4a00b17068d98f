"""Fuzz the HTTP API with schemathesis against a real ``bentoml serve``.

    .venv/bin/python bench/fuzz_api.py                        # trains a model on labels/ first (over 10 min at 55k labels)
    .venv/bin/python bench/fuzz_api.py --model models/latest --max-examples 50 --max-time 60

Starts ``bentoml serve serve.service:TopicTagger`` on 127.0.0.1 and a free port, with a model trained
on ``labels/`` into a private temporary BentoML home (or ``--model DIR``), waits for ``/readyz``, then
runs ``schemathesis run http://127.0.0.1:PORT/docs.json`` (the service's own OpenAPI schema) with the
checks ``not_a_server_error`` and ``response_schema_conformance``: its examples and coverage phases,
then fuzzing with ``--max-examples`` cases per operation, repeated until ``--max-time`` seconds are
spent (``--max-time 0``: one pass).  Prints a summary and exits 1 if any request got a 5xx (or schemathesis could not
run), 0 otherwise; schema-conformance failures are reported, and fail the run only with ``--strict``.
The server is stopped by its process group id and the temporary folder removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SERVER_ERROR_CODES = {"ST101", "ST102"}  # schemathesis: server error, server error with bad content type


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(tmp: Path) -> dict:
    """Environment for child processes: a private BentoML home, no token cache, no tracking."""
    return {**os.environ, "BENTOML_HOME": str(tmp / "bentoml"), "GIKAI_TOPICS_CACHE": "off",
            "BENTOML_DO_NOT_TRACK": "true", "PYTHONUNBUFFERED": "1"}


def prepare_model(tmp: Path, model: str | None, labels: str) -> Path:
    """``model`` if given (a model directory), else a model trained on ``labels`` into ``tmp``."""
    if model:
        path = Path(model).resolve()
        if not (path / "gikai.json").is_file():
            raise SystemExit(f"--model {model}: not a gikai-topics model directory (no gikai.json)")
        return path
    out = tmp / "model"
    say(f"training a model on {labels} (use --model DIR to skip this)")
    t0 = time.time()
    code = f"from train.cli import main; raise SystemExit(main(['train', '--labels', {labels!r}, '--out', {str(out)!r}]))"
    r = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=base_env(tmp), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"training failed ({r.returncode}):\n{r.stderr[-3000:]}")
    say(f"trained in {time.time() - t0:.0f} s: {out}")
    return out


@contextlib.contextmanager
def running_server(tmp: Path, model_dir: Path, *, threads: int = 4, workers: int = 1,
                   ready_timeout: float = 180) -> Iterator[tuple[str, subprocess.Popen]]:
    """``bentoml serve`` on 127.0.0.1 and a free port; yields (base URL, process); stops it by pid."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**base_env(tmp), "GIKAI_TOPICS_MODEL": str(model_dir), "GIKAI_TOPICS_THREADS": str(threads),
           "GIKAI_TOPICS_WORKERS": str(workers)}
    log_path = tmp / "server.log"
    log = open(log_path, "ab")
    proc = subprocess.Popen([PYTHON, "-m", "bentoml", "serve", "serve.service:TopicTagger", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.time() + ready_timeout
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"bentoml serve exited with {proc.returncode}; log:\n"
                                 + log_path.read_text(errors="replace")[-3000:])
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            if time.time() > deadline:
                raise SystemExit(f"server not ready after {ready_timeout:.0f} s; log:\n"
                                 + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        say(f"server ready at {base} (pid {proc.pid})")
        yield base, proc
    finally:
        stop_server(proc)
        log.close()


def stop_server(proc: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM to the server's process group (it was started in a session of its own), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def run_schemathesis(base: str, tmp: Path, max_examples: int, max_time: float, seed: int,
                     workers: int) -> tuple[int, dict, list[dict]]:
    report = tmp / "schemathesis.json"
    events = tmp / "schemathesis.ndjson"
    cmd = [PYTHON, "-m", "schemathesis.cli", "run", f"{base}/docs.json",
           "--checks", "not_a_server_error,response_schema_conformance",
           "--max-examples", str(max_examples), "--seed", str(seed), "--workers", str(workers),
           "--request-timeout", "120", "--generation-database", "none", "--no-color", "--continue-on-failure",
           "--report", "json,ndjson", "--report-json-path", str(report), "--report-ndjson-path", str(events)]
    if max_time > 0:
        cmd += ["--max-time", str(int(max_time))]
    say("running: schemathesis " + " ".join(cmd[3:]))
    r = subprocess.run(cmd, cwd=tmp, env=base_env(tmp), text=True, capture_output=True)
    print(r.stdout[-6000:])
    if r.stderr.strip():
        print(r.stderr[-3000:], file=sys.stderr)
    doc = json.loads(report.read_text()) if report.is_file() else {}
    statuses: list[dict] = []
    if events.is_file():
        for line in events.read_text(errors="replace").splitlines():
            statuses.extend(_responses(line))
    return r.returncode, doc, statuses


def _responses(line: str) -> list[dict]:
    """Every request/response pair a finished scenario recorded (one NDJSON event per line)."""
    try:
        event = json.loads(line)
    except ValueError:
        return []
    recorder = (event.get("ScenarioFinished") or {}).get("recorder") or {}
    out = []
    for interaction in (recorder.get("interactions") or {}).values():
        request = interaction.get("request") or {}
        response = interaction.get("response") or {}
        path = "/" + request.get("uri", "").split("/", 3)[-1].split("?")[0]
        out.append({"op": f"{request.get('method', '?')} {path}", "status": response.get("status_code", "error")})
    checks = recorder.get("checks") or {}
    for results in checks.values():
        for c in results:
            out.append({"check": c.get("name"), "result": c.get("status")})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="model directory to serve (default: train one on --labels)")
    ap.add_argument("--labels", default="labels", help="labels to train on when no --model (default labels/)")
    ap.add_argument("--max-examples", type=int, default=50, help="fuzzing test cases per operation (default 50)")
    ap.add_argument("--max-time", type=float, default=60,
                    help="time budget in seconds: fuzzing repeats until it is spent (default 60; 0: one pass)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--workers", type=int, default=2, help="concurrent schemathesis workers (default 2)")
    ap.add_argument("--strict", action="store_true", help="also exit 1 on response schema conformance failures")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (reports, server log)")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="gikai-fuzz-"))
    try:
        model_dir = prepare_model(tmp, args.model, args.labels)
        t0 = time.time()
        with running_server(tmp, model_dir) as (base, _proc):
            code, doc, responses = run_schemathesis(base, tmp, args.max_examples, args.max_time, args.seed,
                                                    args.workers)
        seconds = time.time() - t0
        return summarize(code, doc, responses, tmp / "server.log", seconds, args.strict)
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def summarize(code: int, doc: dict, responses: list[dict], log_path: Path, seconds: float, strict: bool) -> int:
    failures = doc.get("failures") or []
    errors = doc.get("errors") or []
    by_status: dict[str, int] = {}
    by_check: dict[str, int] = {}
    for r in responses:
        if "check" in r:
            key = f"{r['check']}: {r['result']}"
            by_check[key] = by_check.get(key, 0) + 1
            continue
        key = f"{r['op']} {r['status']}"
        by_status[key] = by_status.get(key, 0) + 1
    server_errors = [f for f in failures if f.get("code") in SERVER_ERROR_CODES]
    n5xx = sum(v for k, v in by_status.items() if k.rsplit(" ", 1)[1].startswith("5"))
    no_response = sum(v for k, v in by_status.items() if k.endswith(" error"))
    conformance = [f for f in failures if f.get("code") not in SERVER_ERROR_CODES]
    print("\n== fuzz summary ==")
    print(f"schemathesis {doc.get('schemathesis_version', '?')}, exit code {code}, {seconds:.0f} s")
    ops = doc.get("operations") or {}
    cases = doc.get("test_cases") or {}
    print(f"operations tested: {ops.get('tested', '?')}/{ops.get('total', '?')}; test cases generated: "
          f"{cases.get('generated', '?')}; with failures: {cases.get('with_failures', '?')}")
    per_op: dict[str, list[str]] = {}
    undeclared = 0
    for key in sorted(by_status):
        op, status = key.rsplit(" ", 1)
        if status == "405":  # the coverage phase tries every undeclared method on every path
            undeclared += by_status[key]
            continue
        per_op.setdefault(op, []).append(f"{status} x{by_status[key]}")
    print("responses by operation and status:")
    for op, parts in per_op.items():
        print(f"  {op}: {', '.join(parts)}")
    print(f"  undeclared methods: 405 x{undeclared}")
    print("check outcomes:")
    for key in sorted(by_check):
        print(f"  {key}: {by_check[key]}")
    print(f"requests: {sum(by_status.values())}; 5xx responses: {n5xx}; no response: {no_response}; "
          f"server-error failures: {sum(f.get('count', 1) for f in server_errors)}")
    for f in failures:
        print(f"  failure {f.get('code')} {f.get('title')!r} x{f.get('count')} in {f.get('operations')}")
    for e in errors:
        print(f"  error {e.get('title')!r} x{e.get('count')}")
    if server_errors or n5xx or no_response:
        print("RESULT: FAIL (server errors)")
        return 1
    if not doc or not cases.get("generated"):
        print("RESULT: FAIL (schemathesis did not run)")
        return 1
    if errors:
        print("RESULT: FAIL (schemathesis errors)")
        return 1
    if conformance and strict:
        print("RESULT: FAIL (response schema conformance, --strict)")
        return 1
    print("RESULT: OK (no 5xx)" + (f"; {len(conformance)} conformance failure group(s) reported" if conformance else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
