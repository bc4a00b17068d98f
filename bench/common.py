"""Shared plumbing for the benchmark sections.

* :class:`Context` holds the run's settings (quick or full), its private temp
  folder (BentoML home, token caches, data files, models) and artifacts the
  sections share (the model trained on the labels, the shuffled corpus file).
* :func:`run_child` runs one measured function in a fresh Python process and
  returns its result with the process's peak RSS: every timed figure comes
  from a process that holds only what that measurement needs.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


class ChildTimeout(Exception):
    """A measured child process ran over its time budget and was stopped."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what}: stopped after {seconds:.0f} s (time budget)")
        self.seconds = seconds


class ChildFailed(Exception):
    pass


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cpu_snapshot() -> dict:
    """System-wide busy CPU seconds and the CPU seconds of this process and its reaped children."""
    import psutil

    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0) + getattr(t, "steal", 0)
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"busy": busy, "ours": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime}


def cpu_delta(a: dict, b: dict, wall: float) -> dict:
    """CPU used during a stretch of time: by the bench's processes, and by everything else on the machine."""
    busy = b["busy"] - a["busy"]
    ours = b["ours"] - a["ours"]
    cores = os.cpu_count() or 1
    return {"ours_s": ours, "others_s": max(0.0, busy - ours), "capacity_s": wall * cores}


def loadavg() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


@dataclasses.dataclass
class Context:
    tmp: Path
    quick: bool
    sections: list[str]
    shared: dict[str, Any] = dataclasses.field(default_factory=dict)
    results: dict[str, Any] = dataclasses.field(default_factory=dict)

    # -------------------------------------------------------------- paths
    def path(self, *parts: str) -> Path:
        p = self.tmp.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def fresh_dir(self, name: str) -> Path:
        """A new, empty folder (for a cold token cache, a model, ...)."""
        i = 0
        while (self.tmp / f"{name}-{i}").exists():
            i += 1
        d = self.tmp / f"{name}-{i}"
        d.mkdir(parents=True)
        return d

    # -------------------------------------------------------------- shared artifacts
    def corpus_file(self) -> Path:
        """All corpus utterances (deduplicated, as read by train.corpus) in a seeded random order."""
        if "corpus_file" not in self.shared:
            out = self.path("data", "corpus-shuffled.jsonl")
            say("reading and shuffling the seeds corpus")
            info = run_child("bench.common:write_shuffled_corpus", {"out": str(out)}, timeout=600)
            self.shared["corpus_file"] = out
            self.shared["corpus_records"] = info["result"]["records"]
        return self.shared["corpus_file"]

    def labels_model(self) -> dict:
        """The model trained on the labels (full run: default config; quick run: SGD).

        The training section registers it when it trains one; otherwise it is trained here.
        Returns {"dir", "tag", "kind", "train_seconds"}.
        """
        if "labels_model" not in self.shared:
            from . import training

            training.train_labels_model(self)
        return self.shared["labels_model"]


# ------------------------------------------------------------------ child processes

def run_child(target: str, args: dict, *, timeout: float, env: dict | None = None, log: Path | None = None) -> dict:
    """Run ``module:function(**args)`` in a fresh interpreter; return {"result", "peak_rss_mb", "wall_s"}.

    The child's peak RSS comes from getrusage (exact high-water mark of that process).
    On timeout the child's process group is killed and :class:`ChildTimeout` raised.
    """
    tmp = Path(os.environ.get("GIKAI_BENCH_TMP", "/tmp"))
    stamp = f"{os.getpid()}-{time.monotonic_ns()}"
    in_path = tmp / f"child-{stamp}.in.json"
    out_path = tmp / f"child-{stamp}.out.json"
    in_path.write_text(json.dumps({"target": target, "args": args}), encoding="utf-8")
    log_fh = open(log, "a") if log else None
    t0 = time.perf_counter()
    proc = subprocess.Popen([PYTHON, "-m", "bench._child", str(in_path), str(out_path)], cwd=ROOT,
                            env={**os.environ, **(env or {})}, stdout=log_fh or subprocess.DEVNULL,
                            stderr=log_fh or subprocess.PIPE, start_new_session=True, text=True)
    try:
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process_group(proc)
            raise ChildTimeout(target, time.perf_counter() - t0) from None
    finally:
        if proc.poll() is None:
            stop_process_group(proc)
        if log_fh:
            log_fh.close()
        in_path.unlink(missing_ok=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not out_path.is_file():
        tail = (err or "")[-3000:] if not log else log.read_text(errors="replace")[-3000:]
        raise ChildFailed(f"{target} exited with {proc.returncode}:\n{tail}")
    data = json.loads(out_path.read_text(encoding="utf-8"))
    out_path.unlink(missing_ok=True)
    data["wall_s"] = wall
    return data


def stop_process_group(proc: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM the child's own process group (started with start_new_session), then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


class PhaseClock:
    """Timestamps of progress messages (``train``'s progress callback) to split a run into phases."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, str]] = []

    def __call__(self, msg: str) -> None:
        self.marks.append((time.perf_counter(), msg))

    def first(self, prefix: str) -> float | None:
        return next((t for t, m in self.marks if m.startswith(prefix)), None)


# ------------------------------------------------------------------ corpus helpers (run in children)

def write_shuffled_corpus(out: str, seed: int = 0) -> dict:
    import random

    from train.corpus import read_corpus

    recs = [r.to_dict() for r in read_corpus([ROOT / "seeds"])]
    random.Random(seed).shuffle(recs)
    with open(out, "w", encoding="utf-8") as fh:
        for r in recs:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return {"records": len(recs)}


def read_corpus_rows(path: Path | str, n: int | None = None, *, max_chars: int | None = None,
                     where: Callable[[dict], bool] | None = None) -> list[dict]:
    """The first ``n`` rows of the shuffled corpus file (optionally filtered)."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if max_chars is not None and len(r["text"]) > max_chars:
                continue
            if where is not None and not where(r):
                continue
            rows.append(r)
            if n is not None and len(rows) >= n:
                break
    return rows


def write_jsonl_gz(rows: list[dict], path: Path) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def write_label_subset(n: int, out: Path, seed: int = 0) -> dict:
    """A seeded random subset of ``n`` labeled utterances (whole near-duplicate groups), as one label file."""
    import random

    from train.labeling.store import read_labels

    labels, _ = read_labels(ROOT / "labels")
    by_group: dict[str, list] = {}
    for ex in labels.examples:
        by_group.setdefault(ex.group, []).append(ex)
    keys = sorted(by_group)
    random.Random(seed).shuffle(keys)
    chosen = []
    for k in keys:
        if len(chosen) >= n:
            break
        chosen.extend(by_group[k])
    with open(out, "w", encoding="utf-8") as fh:
        for ex in chosen:
            fh.write(json.dumps({"id": ex.id, "text": ex.text, "topics": list(ex.topics),
                                 "municipality": ex.municipality}, ensure_ascii=False) + "\n")
    return {"labels": len(chosen)}


# ------------------------------------------------------------------ misc

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    import numpy as np

    return float(np.percentile(np.asarray(values), q))


def machine_info() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    import platform

    return {"cores": os.cpu_count(), "cpu_model": model, "memory_gb": mem_gb,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def library_versions() -> dict:
    from importlib import metadata

    from train.versions import library_versions as train_versions

    out = dict(train_versions())
    for name in ("fasttext-wheel", "fastapi", "uvicorn", "httpx", "psutil"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def fmt_num(x: float | None, digits: int = 0) -> str:
    if x is None or x != x:
        return "n/a"
    return f"{x:,.{digits}f}"


def fmt_s(x: float | None) -> str:
    if x is None or x != x:
        return "n/a"
    if x >= 100:
        return f"{x:,.0f} s"
    if x >= 10:
        return f"{x:.1f} s"
    return f"{x:.2f} s"
