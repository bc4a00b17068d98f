"""Soak the HTTP API: a real ``bentoml serve`` under concurrent mixed load for a bounded time.

    .venv/bin/python bench/soak.py                                  # 60 s, 32 clients; trains a model first
    .venv/bin/python bench/soak.py --model models/latest --seconds 60 --clients 32

Starts ``bentoml serve serve.service:TopicTagger`` on 127.0.0.1 and a free port (model: ``--model DIR``,
or one trained on ``labels/`` into a private temporary BentoML home), then runs ``--clients`` concurrent
clients (asyncio + httpx, one connection each) for ``--seconds``: a seeded mix of ``POST /tag`` and
``POST /tag_batch`` with valid bodies (real utterances from ``labels/``, batches of 1-64, ``explain``
0-5) and invalid ones (empty or whitespace text, over the character limit, wrong types, bad JSON, empty
or over-limit batches), each with the status it must get (200 or 400).

Reports requests/s, latency p50/p99 (overall and per kind), responses by status, and the server's RSS
(psutil, whole process tree) at the start, its peak, at the end and the growth.  Exits 1 on any 5xx,
any connection error or timeout, or any response whose status is not the expected one; 0 otherwise.
Stops by itself, then stops the server by its process group id and removes the temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_api import ROOT, prepare_model, running_server, say  # noqa: E402  (same folder, run as a script)

MAX_CHARS = 20000
MAX_BATCH = 1000


def load_texts(labels: Path, n: int = 2000) -> list[str]:
    texts = []
    for path in sorted(labels.glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    texts.append(json.loads(line)["text"])
    if not texts:
        raise SystemExit(f"{labels}: no labeled texts to send")
    random.Random(0).shuffle(texts)
    return texts[:n]


def make_request(rng: random.Random, texts: list[str]) -> tuple[str, str, bytes, int, int]:
    """(kind, path, JSON body, expected status, texts to tag), drawn from a fixed mix: 70 % valid, 30 % invalid."""
    dumps = lambda obj: json.dumps(obj, ensure_ascii=False).encode("utf-8")  # noqa: E731
    r = rng.random()
    if r < 0.40:
        return "tag ok", "/tag", dumps({"text": rng.choice(texts), "explain": rng.randint(0, 5)}), 200, 1
    if r < 0.70:
        batch = [rng.choice(texts) for _ in range(rng.randint(1, 64))]
        return "batch ok", "/tag_batch", dumps({"texts": batch, "explain": rng.choice([0, 0, 3])}), 200, len(batch)
    bad_tag = [
        {"text": ""}, {"text": " \n\u3000"}, {"text": "あ" * (MAX_CHARS + 1)}, {"text": 42}, {"text": None},
        {"text": ["a"]}, {"txt": "typo"}, {"text": "ok", "explain": -1}, {"text": "ok", "explain": "many"},
        {"text": "ok", "explain": 10**30}, [], "text",
    ]
    bad_batch = [
        {"texts": []}, {"texts": "not a list"}, {"texts": ["ok", ""]}, {"texts": ["ok", 3]},
        {"texts": ["x"] * (MAX_BATCH + 1)}, {"texts": ["ok", "い" * (MAX_CHARS + 1)]}, {}, {"texts": [None]},
    ]
    if r < 0.82:
        return "tag bad", "/tag", dumps(rng.choice(bad_tag)), 400, 0
    if r < 0.94:
        return "batch bad", "/tag_batch", dumps(rng.choice(bad_batch)), 400, 0
    raw = rng.choice([b'{"text": "', b"\xff\xfe not json", b'{"text": "\\ud800"}', b"[" * 5000, b"null"])
    return "bad json", rng.choice(["/tag", "/tag_batch"]), raw, 400, 0


def tree_memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process and all its descendants, in MB.

    RSS counts a page once per mapping, so the Sudachi dictionary that every tokenizer thread maps
    is counted once per thread; PSS splits shared pages between the processes that map them.
    """
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan"), float("nan")
    rss = pss = 0
    for p in procs:
        try:
            rss += p.memory_info().rss
            pss += getattr(p.memory_full_info(), "pss", 0)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return rss / 2**20, pss / 2**20


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


async def client(i: int, base: str, texts: list[str], deadline: float, seed: int, stats: dict) -> None:
    rng = random.Random(seed * 1000 + i)
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(120.0),
                                 limits=httpx.Limits(max_connections=1)) as c:
        while time.perf_counter() < deadline:
            kind, path, body, expected, n_texts = make_request(rng, texts)
            t0 = time.perf_counter()
            try:
                resp = await c.post(path, content=body, headers={"content-type": "application/json"})
            except httpx.TransportError as exc:  # connection refused/reset, timeouts, protocol errors
                stats["conn_errors"][f"{type(exc).__name__}"] += 1
                continue
            dt = time.perf_counter() - t0
            stats["latency"][kind].append(dt)
            stats["status"][resp.status_code] += 1
            stats["by_kind"][(kind, resp.status_code)] += 1
            if resp.status_code == 200:
                stats["texts"] += n_texts
            if resp.status_code != expected:
                stats["unexpected"][(kind, resp.status_code)] += 1
                if len(stats["samples"]) < 5:
                    stats["samples"].append(f"{kind} {path} {body[:80]!r} -> {resp.status_code} {resp.text[:200]}")


def sample_memory(pid: int, stop: threading.Event, samples: list[tuple[float, float, float]]) -> None:
    t0 = time.perf_counter()
    while not stop.wait(1.0):
        samples.append((time.perf_counter() - t0, *tree_memory_mb(pid)))


async def load(base: str, texts: list[str], clients: int, seconds: float, seed: int) -> tuple[dict, float]:
    stats = {"latency": defaultdict(list), "status": Counter(), "by_kind": Counter(), "unexpected": Counter(),
             "conn_errors": Counter(), "samples": [], "texts": 0}
    t0 = time.perf_counter()
    deadline = t0 + seconds
    await asyncio.gather(*(client(i, base, texts, deadline, seed, stats) for i in range(clients)))
    return stats, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="model directory to serve (default: train one on --labels)")
    ap.add_argument("--labels", default="labels", help="labels: training data when no --model, and texts to send")
    ap.add_argument("--seconds", type=float, default=60, help="load duration (default 60)")
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    ap.add_argument("--threads", type=int, default=4, help="server threads per worker (default 4)")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    texts = load_texts((ROOT / args.labels) if not Path(args.labels).is_absolute() else Path(args.labels))
    tmp = Path(tempfile.mkdtemp(prefix="gikai-soak-"))
    try:
        model_dir = prepare_model(tmp, args.model, args.labels)
        with running_server(tmp, model_dir, threads=args.threads, workers=args.workers) as (base, proc):
            time.sleep(2)  # let the freshly started workers settle before the baseline
            mem_start = tree_memory_mb(proc.pid)
            n_procs = 1 + len(psutil.Process(proc.pid).children(recursive=True))
            say(f"server RSS at start {mem_start[0]:.0f} MB ({n_procs} processes); "
                f"{args.clients} clients for {args.seconds:.0f} s")
            stop = threading.Event()
            samples: list[tuple[float, float, float]] = []
            sampler = threading.Thread(target=sample_memory, args=(proc.pid, stop, samples), daemon=True)
            sampler.start()
            load_before = os.getloadavg()[0]
            stats, elapsed = asyncio.run(load(base, texts, args.clients, args.seconds, args.seed))
            stats["loadavg"] = (load_before, os.getloadavg()[0])
            stop.set()
            sampler.join()
            time.sleep(2)
            mem_end = tree_memory_mb(proc.pid)
            threads = sum(p.num_threads() for p in [psutil.Process(proc.pid),
                                                    *psutil.Process(proc.pid).children(recursive=True)])
            alive = proc.poll() is None
            ready = httpx.get(f"{base}/readyz", timeout=10).status_code if alive else None
        return report(args, stats, elapsed, mem_start, mem_end, samples, threads, alive, ready)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(args, stats: dict, elapsed: float, mem_start: tuple[float, float], mem_end: tuple[float, float],
           samples: list[tuple[float, float, float]], threads: int, alive: bool, ready: int | None) -> int:
    total = sum(stats["status"].values())
    all_lat = [x for v in stats["latency"].values() for x in v]
    n5xx = sum(n for s, n in stats["status"].items() if s >= 500)
    n_conn = sum(stats["conn_errors"].values())
    n_unexp = sum(stats["unexpected"].values())
    print("\n== soak summary ==")
    print(f"{args.clients} clients x {elapsed:.1f} s against 127.0.0.1, server workers={args.workers} "
          f"threads={args.threads}; {os.cpu_count()} CPUs, 1-min load average {stats['loadavg'][0]:.1f} before, "
          f"{stats['loadavg'][1]:.1f} after")
    print(f"requests: {total:,} ({total / elapsed:.1f}/s); latency p50 {percentile(all_lat, 50) * 1000:.0f} ms, "
          f"p99 {percentile(all_lat, 99) * 1000:.0f} ms; texts tagged: {stats['texts']:,} "
          f"({stats['texts'] / elapsed:.0f}/s)")
    print("by kind: " + "; ".join(
        f"{k} n={len(v):,} p50={percentile(v, 50) * 1000:.0f} ms p99={percentile(v, 99) * 1000:.0f} ms"
        for k, v in sorted(stats["latency"].items())))
    print("responses by status: " + ", ".join(f"{s}: {n:,}" for s, n in sorted(stats["status"].items())))
    print("by kind and status: " + ", ".join(f"{k} {s}: {n:,}" for (k, s), n in sorted(stats["by_kind"].items())))
    print(f"5xx: {n5xx}; connection errors/timeouts: {n_conn} {dict(stats['conn_errors']) or ''}; "
          f"unexpected statuses: {n_unexp} {dict(stats['unexpected']) or ''}")
    for line in stats["samples"]:
        print(f"  e.g. {line}")
    for i, name in enumerate(("RSS", "PSS")):
        start, end = mem_start[i], mem_end[i]
        peak = max([start, end, *(smp[1 + i] for smp in samples)])
        warm = [smp[1 + i] for smp in samples if smp[0] >= 10]
        growth_warm = f"; from 10 s into the load to the end {end - warm[0]:+.0f} MB" if warm else ""
        print(f"server {name} (process tree): start {start:.0f} MB, peak {peak:.0f} MB, end {end:.0f} MB, "
              f"growth {end - start:+.0f} MB{growth_warm}")
    print(f"server threads at the end: {threads}")
    print(f"server alive after the run: {alive}; /readyz {ready}")
    ok = total > 0 and n5xx == 0 and n_conn == 0 and n_unexp == 0 and alive and ready == 200
    print("RESULT: " + ("OK" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
