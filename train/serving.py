"""Starting the HTTP service (``bentoml serve``) with our settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .errors import InputError
from .store import resolve

SERVICE = "serve.service:TopicTagger"


def server_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port)]


def server_env(model: str | None, workers: int, threads: int) -> dict[str, str]:
    if workers < 1 or threads < 1:
        raise InputError(f"--workers and --threads must be >= 1, found {workers} and {threads}")
    env = dict(os.environ)
    if model:
        path = Path(model)
        env["GIKAI_TOPICS_MODEL"] = str(path.resolve()) if path.is_dir() else model
    resolve(env.get("GIKAI_TOPICS_MODEL"))  # fail fast, with our message, if the model does not exist
    env["GIKAI_TOPICS_WORKERS"] = str(workers)
    env["GIKAI_TOPICS_THREADS"] = str(threads)
    return env


def run_server(*, model: str | None, host: str, port: int, workers: int, threads: int) -> int:
    if not 0 < port < 65536:
        raise InputError(f"--port: expected 1-65535, found {port}")
    env = server_env(model, workers, threads)
    root = Path(__file__).resolve().parents[1]
    try:
        return subprocess.call(server_command(host, port), env=env, cwd=root)
    except KeyboardInterrupt:
        return 0
