"""Starting the HTTP service (``bentoml serve``) with our settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .errors import InputError
from .inference import service_settings
from .store import resolve, verify

SERVICE = "serve.service:TopicTagger"


def server_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port)]


def server_env(model: str | None, workers: int | None, threads: int | None) -> dict[str, str]:
    """The service's environment: options first, then GIKAI_TOPICS_* variables, checked here by the very
    function the service reads them with (``service_settings``), so that a bad value is a one-line error
    instead of a server that fails to start or refuses every request."""
    env = dict(os.environ)
    for var, given in (("GIKAI_TOPICS_WORKERS", workers), ("GIKAI_TOPICS_THREADS", threads)):
        if given is not None:
            if given < 1:
                raise InputError(f"{'--' + var.split('_')[-1].lower()} / {var}: expected an integer >= 1, "
                                 f"found {given}")
            env[var] = str(given)
    settings = service_settings(env)
    env["GIKAI_TOPICS_WORKERS"], env["GIKAI_TOPICS_THREADS"] = str(settings.workers), str(settings.threads)
    # bentoml runs from the project root: a relative model folder must be made absolute
    ref = model or settings.model
    path = Path(ref)
    env["GIKAI_TOPICS_MODEL"] = str(path.resolve()) if path.is_dir() else ref
    # fail fast, with our message, if the model does not exist, is not a model or was modified: the service
    # would start and stay not-ready, answering every request with 503
    verify(resolve(env["GIKAI_TOPICS_MODEL"])[0])
    return env


def check_port_free(host: str, port: int) -> None:
    """Fail with one line when the port is taken, instead of bentoml's traceback."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            raise InputError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror}); "
                             "stop what uses it or choose another --port") from None


def run_server(*, model: str | None, host: str, port: int, workers: int | None, threads: int | None) -> int:
    """Run ``bentoml serve`` in the foreground. SIGINT/SIGTERM are passed on to it and waited for, so that
    stopping this process stops the whole server (its workers included)."""
    import signal

    if not 0 < port < 65536:
        raise InputError(f"--port: expected 1-65535, found {port}")
    env = server_env(model, workers, threads)
    check_port_free(host, port)
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(server_command(host, port), env=env, cwd=root)

    def forward(signum, _frame):
        if proc.poll() is None:
            proc.send_signal(signum)

    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = proc.wait()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return 0 if code in (-signal.SIGINT, -signal.SIGTERM, 130, 143) else code
