"""A real HTTP server under measurement, and the load that measures it (bench/serving.py): the server started on a
free port in its own process group, its process tree sampled for peak RSS and CPU time; the load posted by client
threads (httpx, keep-alive) until a time or request limit, with latencies and the CPU each side used."""

from __future__ import annotations

import os
import subprocess
import threading
import time

from .common import ROOT, cpu_snapshot, free_port, percentile, stop_process_group


class Server:
    def __init__(self, name: str, cmd: list[str], env: dict, log_path) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.cmd = cmd + ["--host", "127.0.0.1", "--port", str(self.port)]
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.peak_rss_mb = 0.0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def start(self, timeout: float = 240) -> float:
        import httpx

        self._log = open(self.log_path, "w")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}:\n"
                                   + open(self.log_path, errors="replace").read()[-2000:])
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"{self.name} was not ready after {timeout:.0f} s; see {self.log_path}")

    def _tree(self):
        import psutil

        try:
            p = psutil.Process(self.proc.pid)
            return [p] + p.children(recursive=True)
        except psutil.Error:
            return []

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for p in self._tree():
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_rss_mb = max(self.peak_rss_mb, total / 2**20)
            self._stop.wait(0.2)

    def cpu_seconds(self) -> float:
        import psutil

        total = 0.0
        for p in self._tree():
            try:
                c = p.cpu_times()
                total += c.user + c.system
            except psutil.Error:
                pass
        return total

    def stop(self) -> None:
        self._stop.set()
        if self.proc is not None:
            stop_process_group(self.proc)
        if getattr(self, "_log", None):
            self._log.close()


def load(base: str, path: str, bodies, clients: int, seconds: float, max_requests: int, server: Server) -> dict:
    """Run ``clients`` threads posting bodies from the ``bodies`` iterator until the time or request limit."""
    import httpx
    import psutil

    me = psutil.Process()
    lock = threading.Lock()
    state = {"requests": 0, "texts": 0, "errors": 0}
    lat: list[float] = []
    stop_at = time.perf_counter() + seconds

    def worker():
        with httpx.Client(base_url=base, timeout=120) as c:
            while True:
                with lock:
                    if state["requests"] >= max_requests or time.perf_counter() >= stop_at:
                        return
                    state["requests"] += 1
                    body, n = next(bodies)
                s = time.perf_counter()
                r = c.post(path, json=body)
                el = time.perf_counter() - s
                with lock:
                    lat.append(el)
                    if r.status_code == 200:
                        state["texts"] += n
                    else:
                        state["errors"] += 1

    cpu_c0, cpu_s0, sys0 = sum(me.cpu_times()[:2]), server.cpu_seconds(), cpu_snapshot()["busy"]
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    el = time.perf_counter() - t0
    cpu_c, cpu_s = sum(me.cpu_times()[:2]) - cpu_c0, server.cpu_seconds() - cpu_s0
    others = max(0.0, cpu_snapshot()["busy"] - sys0 - cpu_c - cpu_s)
    return {"clients": clients, "requests": len(lat), "texts": state["texts"], "errors": state["errors"],
            "seconds": el, "texts_per_s": state["texts"] / el, "p50_ms": percentile(lat, 50) * 1e3,
            "p95_ms": percentile(lat, 95) * 1e3, "p99_ms": percentile(lat, 99) * 1e3,
            "client_cpu_s": cpu_c, "server_cpu_s": cpu_s, "others_cpu_s": others}
