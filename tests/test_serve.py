"""The HTTP service at three levels: direct call, ASGI app, and a real `bentoml serve`."""

import concurrent.futures
import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from conftest import ROOT, free_port

BAD_TAG_BODIES = [
    {"text": ""},
    {"text": "   \n "},
    {"text": "あ" * 20001},
    {"text": 42},
    {"text": None},
    {"txt": "typo"},
    {"text": "ok", "explain": -1},
    {"text": "ok", "explain": "many"},
    [],
]
BAD_BATCH_BODIES = [
    {"texts": []},
    {"texts": "not a list"},
    {"texts": ["ok", ""]},
    {"texts": ["ok", 3]},
    {"texts": ["x"] * 1001},
    {"texts": ["ok", "い" * 20001]},
    {},
]


@pytest.fixture
def service_module(trained_model_dir, monkeypatch):
    monkeypatch.setenv("GIKAI_TOPICS_MODEL", str(trained_model_dir))
    import serve.service

    return importlib.reload(serve.service)


def test_serve_imports_only_inference_surface():
    source = (ROOT / "serve" / "service.py").read_text(encoding="utf-8")
    imports = [l for l in source.splitlines() if l.startswith(("from train", "import train"))]
    assert imports == ["from train.inference import InputError, Tagger, load_model, service_settings"]


def test_direct_call(service_module):
    svc = service_module.TopicTagger()
    assert svc.__is_ready__()
    res = svc.tag(text="保育園の待機児童対策について伺います。", explain=2).model_dump()
    assert set(res) == {"topics", "scores", "terms", "model"} and len(res["scores"]) == 13
    batch = [r.model_dump() for r in svc.tag_batch(texts=["防災訓練について", "学校給食について"])]
    assert len(batch) == 2 and all("terms" not in r for r in batch)
    from bentoml.exceptions import InvalidArgument

    with pytest.raises(InvalidArgument, match="text: must not be empty"):
        svc.tag(text=" ")
    info = svc.topics_info()
    assert info["limits"]["max_chars"] == 20000 and len(info["topics"]) == 13 and "cv_summary" in info


def test_asgi_app(asgi_client):
    client = asgi_client
    if True:
        r = client.post("/tag", json={"text": "マイナンバーカードの利用について", "explain": 3})
        assert r.status_code == 200 and set(r.json()["scores"]) and r.json()["model"]
        texts = [f"{i}番目の発言：公園の整備について" for i in range(20)]
        r = client.post("/tag_batch", json={"texts": texts})
        assert r.status_code == 200 and len(r.json()) == 20
        assert all(set(item) == {"topics", "scores", "model"} for item in r.json())  # "terms" only with explain
        assert client.get("/topics").status_code == 200
        assert client.get("/readyz").status_code == 200
        for body in BAD_TAG_BODIES:
            r = client.post("/tag", json=body)
            assert r.status_code == 400, (body, r.text)
        for body in BAD_BATCH_BODIES:
            r = client.post("/tag_batch", json=body)
            assert r.status_code == 400, (str(body)[:80], r.text)
        r = client.post("/tag", content=b"\xff\xfe not json", headers={"content-type": "application/json"})
        assert r.status_code == 400


def test_long_text_within_limit_is_split_not_refused(asgi_client):
    text = "避難所の備蓄について伺います。" * 1300  # 19,500 chars, ~58 KB of UTF-8: over Sudachi's byte limit
    assert len(text) <= 20000 and len(text.encode()) > 49149
    r = asgi_client.post("/tag", json={"text": text})
    assert r.status_code == 200 and "disaster" in r.json()["scores"]


def test_damaged_model_is_not_ready(trained_model_dir, tmp_path):
    """A tampered model: readiness fails, the reason is logged, requests get 503 (own process: see asgi_client)."""
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained_model_dir, bad)
    (bad / "model.joblib").write_bytes(b"not a model")
    code = (
        "from starlette.testclient import TestClient\n"
        "import serve.service as s\n"
        "with TestClient(app=s.TopicTagger.to_asgi()) as c:\n"
        "    print(c.get('/readyz').status_code, c.post('/tag', json={'text': 'x'}).status_code)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "GIKAI_TOPICS_MODEL": str(bad)},
                       capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["503", "503"], r.stderr[-2000:]
    assert "does not match the manifest" in r.stderr


def _wait_ready(base: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bentoml serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError("server did not become ready")


@contextlib.contextmanager
def real_server(model_dir, tmp_path, **env):
    """A real ``bentoml serve`` of ``model_dir`` on a free local port (``env``: more GIKAI_TOPICS_* settings);
    yields its base URL once /readyz answers, and stops its process group afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "bentoml", "serve", "serve.service:TopicTagger", "--host",
                             "127.0.0.1", "--port", str(port)], cwd=ROOT,
                            env={**os.environ, "GIKAI_TOPICS_MODEL": str(model_dir), **env}, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(base, proc)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.mark.slow
def test_real_bentoml_serve(trained_model_dir, tmp_path):
    with real_server(trained_model_dir, tmp_path, GIKAI_TOPICS_THREADS="4") as base:
        with httpx.Client(base_url=base, timeout=30) as c:
            r = c.post("/tag", json={"text": "子育て支援と保育園の整備について伺います。", "explain": 2})
            assert r.status_code == 200 and "topics" in r.json() and "terms" in r.json()
            r = c.post("/tag_batch", json={"texts": ["防災", "ごみの収集", "区の予算"]})
            assert r.status_code == 200 and len(r.json()) == 3
            r = c.get("/topics")
            assert r.status_code == 200 and r.json()["limits"]["max_batch"] == 1000
            for body in BAD_TAG_BODIES:
                assert c.post("/tag", json=body).status_code == 400, body
            for body in BAD_BATCH_BODIES:
                assert c.post("/tag_batch", json=body).status_code == 400, str(body)[:80]
            assert "bentoml" in c.get("/metrics").text
            assert c.get("/docs.json").status_code == 200

        texts = [f"第{i}回 区の防災訓練と避難所の運営について伺います。" for i in range(64)]

        def call(t):
            with httpx.Client(base_url=base, timeout=30) as c:
                return c.post("/tag", json={"text": t}).json()

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            concurrent_results = list(pool.map(call, texts))
        with httpx.Client(base_url=base, timeout=30) as c:
            sequential = [c.post("/tag", json={"text": t}).json() for t in texts[:8]]
        assert concurrent_results[:8] == sequential


@pytest.mark.slow
def test_bentoml_build_from_repo(isolated_state, tmp_path):
    from conftest import FIXTURES, small_config
    from train.training import train

    train(FIXTURES / "labels.jsonl", small_config())  # into this test's BentoML store
    r = subprocess.run([sys.executable, "-m", "bentoml", "build"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, env={**os.environ})
    assert r.returncode == 0, r.stderr[-2000:]
    bentos = list((isolated_state / "bentos" / "gikai_topics").iterdir())
    assert bentos
    src = next(b for b in bentos if b.is_dir()) / "src"
    assert (src / "labels" / "topics.yaml").is_file() and (src / "train" / "inference.py").is_file()
    assert not (src / "train" / "cli").exists()


@pytest.mark.slow
def test_cli_serve_stops_its_workers_on_sigterm(trained_model_dir, tmp_path):
    """A supervisor stops `gikai-topics serve` with SIGTERM to that one process: the bentoml server and its
    workers must go with it (they used to keep serving the port)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "cli-serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-c", "from train.cli import entrypoint; entrypoint()", "serve",
                             "--model", str(trained_model_dir), "--port", str(port), "--threads", "2"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(base, proc)
        proc.send_signal(signal.SIGTERM)  # to our process only, not the group
        assert proc.wait(60) == 0
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                httpx.get(f"{base}/readyz", timeout=1)
            except httpx.HTTPError:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the server still answers after `gikai-topics serve` was stopped")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_serve_options_checked_before_starting(trained_model_dir, monkeypatch):
    from train.errors import InputError
    from train.serving import check_port_free, server_env

    monkeypatch.setenv("GIKAI_TOPICS_MAX_CHARS", "abc")
    with pytest.raises(InputError, match="GIKAI_TOPICS_MAX_CHARS: expected an integer, found 'abc'"):
        server_env(str(trained_model_dir), None, None)
    monkeypatch.setenv("GIKAI_TOPICS_MAX_CHARS", "-5")
    with pytest.raises(InputError, match="GIKAI_TOPICS_MAX_CHARS: expected an integer >= 1"):
        server_env(str(trained_model_dir), None, None)
    monkeypatch.delenv("GIKAI_TOPICS_MAX_CHARS")
    monkeypatch.setenv("GIKAI_TOPICS_THREADS", "8")
    monkeypatch.chdir(trained_model_dir.parent)
    env = server_env(trained_model_dir.name, None, None)  # a relative model folder is made absolute
    assert env["GIKAI_TOPICS_THREADS"] == "8" and env["GIKAI_TOPICS_MODEL"] == str(trained_model_dir.resolve())
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(InputError, match="cannot listen on"):
            check_port_free("127.0.0.1", busy.getsockname()[1])
