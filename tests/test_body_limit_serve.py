"""The cap on request bodies (GIKAI_TOPICS_MAX_BODY_BYTES).

JSON bodies were not limited at all: a body of gigabytes was read and parsed before its 400, enough to exhaust the
server's memory (form-typed bodies were read up to a fixed 64 MiB).  Every POST body is now capped at one limit,
which by default is the largest valid request under the text and batch limits in force; a body over it gets a 413
in the uniform error shape and never reaches BentoML: unread when its Content-Length says so, else as soon as the
bytes that have arrived pass the limit.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os

import pytest

from train.errors import InputError
from train.inference import MAX_BODY_VAR, SERVICE_INTEGERS, largest_request_bytes, service_settings
from train.serving import server_env

TEXT = "避難所の備蓄について伺います。"
SETTING_VARS = [*SERVICE_INTEGERS, MAX_BODY_VAR]


@pytest.fixture
def serve_with(asgi_client, monkeypatch):
    """``serve_with(**variables)``: the session's ASGI app under other GIKAI_TOPICS_* settings.  serve.service is
    imported again under them (the app reads its limits from the module when it uses them), and again under the
    environment it had before at the end, so later tests see the defaults."""
    import serve.service

    before = {var: os.environ.get(var) for var in SETTING_VARS}

    def configure(**variables):
        for var in SETTING_VARS:
            monkeypatch.delenv(var, raising=False)
        for var, value in variables.items():
            monkeypatch.setenv(var, str(value))
        importlib.reload(serve.service)
        return asgi_client

    yield configure
    for var, value in before.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    importlib.reload(serve.service)


def padded(body: dict, size: int) -> bytes:
    """``body`` as JSON of exactly ``size`` bytes (blanks after the value are valid JSON)."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def assert_too_large(response, *words: str) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert set(body) == {"error", "detail"} and all(isinstance(v, str) for v in body.values())
    assert body["error"].startswith("body: ") and "GIKAI_TOPICS_MAX_BODY_BYTES" in body["error"]
    assert "split the batch" in body["error"]
    for word in words:
        assert word in body["error"], (word, body["error"])


# --------------------------------------------------------------------------- the setting


def test_the_default_is_the_largest_valid_request_under_the_limits_in_force():
    assert service_settings({}).max_body_bytes == largest_request_bytes(20_000, 1_000) == 240_020_096
    assert service_settings({MAX_BODY_VAR: ""}).max_body_bytes == 240_020_096  # empty means unset, as for the rest
    small = service_settings({"GIKAI_TOPICS_MAX_CHARS": "300", "GIKAI_TOPICS_MAX_BATCH": "9"})
    assert small.max_body_bytes == largest_request_bytes(300, 9) < 240_020_096
    assert service_settings({MAX_BODY_VAR: " 5000 "}).max_body_bytes == 5000


def test_a_maximal_batch_in_its_longest_json_form_fits_the_default():
    """Every character an escaped surrogate pair (an emoji as json.dumps writes it: 12 bytes, one character),
    pretty-printed, after a byte-order mark, with explain at its largest: the largest body a valid request has."""
    for max_chars, max_batch in [(1, 1), (300, 9), (20_000, 3)]:
        texts = ["😀" * max_chars] * max_batch
        body = b"\xef\xbb\xbf" + json.dumps({"texts": texts, "explain": 50}, indent=4).encode()
        assert json.loads(body[3:])["texts"][0] == texts[0] and len(texts[0]) == max_chars
        assert len(body) <= largest_request_bytes(max_chars, max_batch), (max_chars, max_batch)


@pytest.mark.parametrize("raw", ["abc", "3.5", " ", "-1", "0", "1e3", "64MiB"])
def test_a_bad_value_is_refused_naming_the_variable_and_the_fix(raw):
    with pytest.raises(InputError) as info:
        service_settings({MAX_BODY_VAR: raw})
    message = str(info.value)
    expected = "expected an integer >= 1 (bytes)" if raw.lstrip("-").isdigit() else "expected an integer (bytes)"
    assert message.startswith(f"{MAX_BODY_VAR}: {expected}, found {raw!r}; set a whole number >= 1 (bytes), or "
                              "unset it for the default (240020096)"), message


def test_serve_checks_it_before_starting(trained_model_dir, monkeypatch):
    """`gikai-topics serve` checks it with the function the service reads it with, as every GIKAI_TOPICS_*."""
    monkeypatch.setenv(MAX_BODY_VAR, "lots")
    with pytest.raises(InputError, match=f"{MAX_BODY_VAR}: expected an integer \\(bytes\\), found 'lots'"):
        server_env(str(trained_model_dir), None, None)
    monkeypatch.setenv(MAX_BODY_VAR, "5000")
    assert service_settings(server_env(str(trained_model_dir), None, None)).max_body_bytes == 5000


def test_the_service_refuses_to_import_with_a_bad_value_naming_it(serve_with):
    with pytest.raises(InputError, match=f"{MAX_BODY_VAR}: expected an integer >= 1 \\(bytes\\), found '0'"):
        serve_with(**{MAX_BODY_VAR: "0"})


# --------------------------------------------------------------------------- the ASGI app


@pytest.mark.parametrize("path, body", [("/tag", {"text": TEXT, "explain": 2}),
                                        ("/tag_batch", {"texts": [TEXT, "学校給食について"]})])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_body_over_the_limit_is_a_413_and_one_at_it_is_answered_as_before(serve_with, path, body, content_type):
    client = serve_with()
    headers = {"content-type": content_type}
    before = client.post(path, content=padded(body, 2000), headers=headers)
    assert before.status_code == 200, before.text
    client = serve_with(**{MAX_BODY_VAR: 2000})
    at_limit = client.post(path, content=padded(body, 2000), headers=headers)
    assert at_limit.status_code == 200 and at_limit.json() == before.json(), at_limit.text
    marked = client.post(path, content=b"\xef\xbb\xbf" + padded(body, 1997), headers=headers)  # the mark counts
    assert marked.status_code == 200 and marked.json() == before.json(), marked.text
    over = client.post(path, content=padded(body, 2001), headers=headers)
    assert_too_large(over, "2,001 bytes (its Content-Length) is over the limit of 2,000 bytes")


def test_a_body_declared_too_large_is_refused_without_reading_it(serve_with):
    """The Content-Length decides before any byte is read: a small valid body declared as large is refused."""
    client = serve_with(**{MAX_BODY_VAR: 2000})
    r = client.post("/tag", content=json.dumps({"text": TEXT}).encode(),
                    headers={"content-type": "application/json", "content-length": "5000000000"})
    assert_too_large(r, "5,000,000,000 bytes (its Content-Length) is over the limit of 2,000 bytes")


def test_a_body_longer_than_its_content_length_is_counted(serve_with):
    """A server frames the body by its Content-Length; should one pass on more, the bytes are still counted."""
    client = serve_with(**{MAX_BODY_VAR: 2000})
    r = client.post("/tag", content=padded({"text": TEXT}, 2500),
                    headers={"content-type": "application/json", "content-length": "100"})
    assert_too_large(r, "at least 2,500 bytes (its Content-Length said 100; reading stopped there)")


@pytest.mark.parametrize("size, status", [(2000, 200), (2001, 413)])
def test_a_chunked_body_without_content_length_is_counted(serve_with, size, status):
    client = serve_with(**{MAX_BODY_VAR: 2000})
    raw = padded({"texts": [TEXT]}, size)

    def chunks():
        for i in range(0, len(raw), 300):
            yield raw[i:i + 300]

    r = client.post("/tag_batch", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
    if status == 413:
        assert_too_large(r, "at least 2,001 bytes (sent without a Content-Length; reading stopped there) is over "
                            "the limit of 2,000 bytes")
    else:
        assert r.status_code == 200 and len(r.json()) == 1, r.text


def test_the_largest_valid_request_is_answered_under_the_default(serve_with):
    """With small text and batch limits and no GIKAI_TOPICS_MAX_BODY_BYTES, a maximal batch in its longest JSON
    form (escaped surrogate pairs, pretty-printed, a byte-order mark) is tagged, not refused as too large."""
    client = serve_with(GIKAI_TOPICS_MAX_CHARS=300, GIKAI_TOPICS_MAX_BATCH=9)
    body = b"\xef\xbb\xbf" + json.dumps({"texts": ["😀" * 300] * 9, "explain": 50}, indent=4).encode()
    r = client.post("/tag_batch", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200 and len(r.json()) == 9, r.text
    limits = client.get("/topics").json()["limits"]
    assert limits == {"max_chars": 300, "max_batch": 9, "max_explain": 50,
                      "max_body_bytes": largest_request_bytes(300, 9)}
    assert len(body) <= limits["max_body_bytes"]


def test_topics_states_the_limit_in_force(serve_with):
    assert serve_with().get("/topics").json()["limits"]["max_body_bytes"] == 240_020_096
    assert serve_with(**{MAX_BODY_VAR: 5000}).get("/topics").json()["limits"]["max_body_bytes"] == 5000


def test_gets_and_small_posts_are_untouched(serve_with):
    client = serve_with(**{MAX_BODY_VAR: 100})
    assert client.get("/readyz").status_code == 200 and client.get("/docs.json").status_code == 200
    assert client.post("/tag", json={"text": "防災"}).status_code == 200
    r = client.post("/tag", content=b"", headers={"content-type": "application/json"})  # an empty body: a 400
    assert r.status_code == 400 and set(r.json()) == {"error", "detail"}


# --------------------------------------------------------------------------- the middleware alone


class Inner:
    """The app behind the guard (BentoML): records what it is given."""

    def __init__(self) -> None:
        self.calls, self.messages = 0, []

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        while True:
            message = await receive()
            self.messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def run_guard(guard_module, chunks, headers=(), endless=False):
    """One POST through RequestGuard alone: ``chunks`` as the server's messages (then, if ``endless``, 50,000
    bytes more: "for ever", for a guard that stops at 2,500, yet finite should one fail to stop); returns the app
    behind, how many messages were read, and the status and body sent."""
    inner, sent, read = Inner(), [], [0]
    scope = {"type": "http", "method": "POST", "path": "/tag_batch",
             "headers": [(b"content-type", b"application/json"), *headers]}

    async def receive():
        read[0] += 1
        if read[0] <= len(chunks):
            return {"type": "http.request", "body": chunks[read[0] - 1],
                    "more_body": endless or read[0] < len(chunks)}
        if endless and read[0] <= len(chunks) + 50:
            return {"type": "http.request", "body": b"x" * 1000, "more_body": read[0] < len(chunks) + 50}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(guard_module.RequestGuard(inner)(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return inner, read[0], status, body


@pytest.fixture
def guard_module(serve_with):
    serve_with(**{MAX_BODY_VAR: 2500})
    import serve.service

    return serve.service


def test_an_endless_body_is_read_only_past_the_limit_and_never_passed_on(guard_module):
    inner, read, status, body = run_guard(guard_module, [b"x" * 1000], endless=True)
    assert (status, read, inner.calls) == (413, 3, 0)  # 3,000 bytes read: over 2,500, and nothing more
    assert json.loads(body)["error"].startswith("body: at least 3,000 bytes (sent without a Content-Length")


def test_a_declared_size_over_the_limit_reads_nothing(guard_module):
    inner, read, status, _ = run_guard(guard_module, [b"{}"], headers=[(b"content-length", b"2501")])
    assert (status, read, inner.calls) == (413, 0, 0)


def test_a_body_within_the_limit_reaches_the_app_as_it_arrived(guard_module):
    chunks = [b'{"texts": ', b'["a", ', b'"b"]}']
    inner, _, status, body = run_guard(guard_module, chunks)
    assert (status, body, inner.calls) == (200, b"ok", 1)
    assert inner.messages == [{"type": "http.request", "body": c, "more_body": i < 2} for i, c in enumerate(chunks)]
    assert run_guard(guard_module, [b"x" * 2500])[2] == 200  # at the limit


def test_a_client_gone_while_sending_gets_no_answer(guard_module):
    inner, sent = Inner(), []
    messages = iter([{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}])

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/tag", "headers": []}
    asyncio.run(guard_module.RequestGuard(inner)(scope, receive, send))
    assert inner.calls == 0 and sent == []
