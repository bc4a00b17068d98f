"""Property tests (hypothesis): the analyzer, the Tagger and the HTTP API on hostile input.

Bounded so the suite stays fast: a fixed number of examples per property, no deadlines, no timed
assertions.  The HTTP properties run through the shared in-process ASGI app (``asgi_client`` in
conftest.py: one BentoML app per process).
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from train.sudachi_input import CHUNK_BYTES, split_for_sudachi
from train.text import JapaneseAnalyzer

MAX_CHARS = 20000
MAX_BATCH = 1000
MAX_EXPLAIN = 50


def bounded(n: int) -> settings:
    """A fixed number of examples, no deadline.  The function-scoped autouse fixture (an isolated
    BENTOML_HOME) is harmless to share between examples, so that health check is off."""
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example])


# --------------------------------------------------------------------------- hostile text

SPECIAL = [
    "\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9f",  # C0/C1 controls, NUL
    "\t", "\n", "\r\n", "\u2028", "\u2029", "\u3000", "\u00a0", "\ufeff", "\u200b", "\u200d", "\u2060",
    "\u202e", "\u200f",  # bidi overrides
    "\ud800", "\udfff", "\udbff\udc00",  # lone and paired surrogates (only Python strings can hold them)
    "\ufffe", "\uffff", "\U0010ffff", "\U000e0001", "\ufe0f",  # non-characters, tags, variation selector
    "😀", "👨‍👩‍👧‍👦", "🇯🇵", "🏳️‍🌈",  # emoji, ZWJ sequences, flags
    "\u0301", "\u0308\u0308\u0308\u0308", "e\u0301", "か\u3099", "ｶﾞｯｺｳ", "ﾊﾟｿｺﾝ", "ｰ", "ﾞﾟ",  # combining, half-width
    "𠮷野家", "髙橋", "①②③", "㍻", "ＡＢＣ１２３", "Ω≈ç√", "русский", "العربية", "עברית", "ไทย", "한국어",
    "保育園の待機児童", "避難所の備蓄", "マイナンバーカード", "令和5年度", "。", "！？", "「」", "…",
    "<script>alert(1)</script>", "'; DROP TABLE x; --", "%s%n", "{{7*7}}", "\\", '"',
]

fragment = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=40),  # any code point, surrogates included
    st.sampled_from(SPECIAL),
    st.builds(lambda ch, n: ch * n, st.sampled_from(SPECIAL), st.integers(1, 300)),
)
hostile_text = st.lists(fragment, max_size=12).map("".join)
# one character repeated 100,000 times, or a very long line of mixed fragments
huge_text = st.one_of(
    st.builds(lambda ch: ch * 100_000, st.one_of(st.sampled_from(SPECIAL), st.characters(exclude_categories=()))),
    st.builds(lambda parts, n: ("".join(parts) or "x") * n, st.lists(st.sampled_from(SPECIAL), min_size=1, max_size=5),
              st.integers(1000, 5000)),
)


def drop_surrogates(text: str) -> str:
    return "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)


def check_tokens(tokens) -> None:
    assert isinstance(tokens, list)
    for tok in tokens:
        assert isinstance(tok, str) and tok and tok.strip(), repr(tok)[:80]
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in tok)
        tok.encode("utf-8")  # well-formed


@pytest.fixture(scope="module")
def analyzer():
    return JapaneseAnalyzer()


@pytest.fixture(scope="module")
def tagger(trained_model_dir):
    from train.inference import load_model

    return load_model(trained_model_dir)


@bounded(100)
@given(text=hostile_text)
def test_analyzer_never_fails(analyzer, text):
    tokens = analyzer(text)
    check_tokens(tokens)
    assert analyzer(text) == tokens  # deterministic


@bounded(12)
@given(text=huge_text)
def test_analyzer_huge_inputs(analyzer, text):
    check_tokens(analyzer(text))


@bounded(60)
@given(text=st.one_of(hostile_text, huge_text).map(drop_surrogates),
       max_bytes=st.sampled_from([4, 16, 1000, CHUNK_BYTES]))
def test_split_for_sudachi_keeps_everything_within_the_limit(text, max_bytes):
    pieces = split_for_sudachi(text, max_bytes)
    assert "".join(pieces) == text
    assert all(len(p.encode("utf-8")) <= max_bytes for p in pieces if len(pieces) > 1)


def check_result(res: dict, topic_ids: list[str], explain: int | None) -> None:
    """The documented shape; ``explain=None``: terms optional, of any length."""
    assert set(res) <= {"topics", "scores", "terms", "model"} and {"topics", "scores"} <= set(res)
    assert isinstance(res["topics"], list) and set(res["topics"]) <= set(topic_ids)
    assert len(set(res["topics"])) == len(res["topics"])
    assert list(res["scores"]) == topic_ids and len(topic_ids) == 13
    for score in res["scores"].values():
        assert isinstance(score, float) and math.isfinite(score) and 0.0 <= score <= 1.0
    if explain or (explain is None and "terms" in res):
        terms = res["terms"]
        assert set(terms) <= set(topic_ids) and terms
        if res["topics"]:
            assert set(terms) == set(res["topics"])
        for items in terms.values():
            assert len(items) <= (explain or MAX_EXPLAIN)
            for word, contribution in items:
                assert isinstance(word, str) and word
                assert isinstance(contribution, float) and math.isfinite(contribution) and contribution > 0
    else:
        assert "terms" not in res


@bounded(50)
@given(texts=st.lists(hostile_text, min_size=1, max_size=4), explain=st.integers(0, 5))
def test_tagger_never_fails(tagger, texts, explain):
    results = tagger.tag(texts, explain=explain)
    assert len(results) == len(texts)
    for res in results:
        check_result(res, tagger.topic_ids, explain)


@bounded(6)
@given(text=huge_text)
def test_tagger_huge_inputs(tagger, text):
    [res] = tagger.tag([text], explain=3)
    check_result(res, tagger.topic_ids, 3)


# --------------------------------------------------------------------------- the HTTP API

json_scalar = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),  # beyond 64 bits
    st.floats(),  # includes NaN and ±Infinity: json.dumps writes them as non-standard tokens
    st.text(alphabet=st.characters(exclude_categories=()), max_size=30),
)
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
text_value = st.one_of(
    hostile_text,
    hostile_text.map(drop_surrogates),
    hostile_text.map(drop_surrogates),
    st.sampled_from(["", " ", "\n\t ", "\u3000", "あ" * MAX_CHARS, "あ" * (MAX_CHARS + 1), "x" * 50_000]),
    json_value,
)
explain_value = st.one_of(st.integers(-3, MAX_EXPLAIN + 3), st.integers(min_value=-(10**30), max_value=10**30),
                          json_scalar, st.sampled_from([1.0, "3", True, [], {}]))


@st.composite
def tag_bodies(draw):
    kind = draw(st.sampled_from(["structured", "structured", "structured", "any"]))
    if kind == "any":
        return draw(json_value)
    body = {"text": draw(text_value)}
    if draw(st.booleans()):
        body["explain"] = draw(explain_value)
    if draw(st.integers(0, 4)) == 0:
        body.update(draw(st.dictionaries(st.text(max_size=8), json_value, max_size=2)))
    if draw(st.integers(0, 6)) == 0:
        body.pop("text", None)
    return body


@st.composite
def batch_bodies(draw):
    kind = draw(st.sampled_from(["structured", "structured", "structured", "size", "any"]))
    if kind == "any":
        return draw(json_value)
    if kind == "size":  # at and over the batch limit
        texts = ["x"] * draw(st.sampled_from([0, 1, MAX_BATCH, MAX_BATCH + 1]))
    else:
        texts = draw(st.one_of(st.lists(text_value, max_size=6), json_value))
    body = {"texts": texts}
    if draw(st.booleans()):
        body["explain"] = draw(explain_value)
    return body


def encode(body, draw_mode: int) -> bytes:
    """JSON bytes, three ways: ASCII with escapes (lone surrogates as "\\ud800"), UTF-8, or UTF-8 with
    surrogates passed through raw (invalid UTF-8)."""
    if draw_mode == 0:
        return json.dumps(body, ensure_ascii=True).encode("ascii")
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")


def valid_text(t) -> bool:
    return (isinstance(t, str) and bool(t.strip()) and len(t) <= MAX_CHARS
            and not any(0xD800 <= ord(c) <= 0xDFFF for c in t))


def plain_explain(body: dict) -> int | None:
    """``explain`` when it is unambiguously valid (absent or an int in range), else None."""
    e = body.get("explain", 0)
    return e if type(e) is int and 0 <= e <= MAX_EXPLAIN else None


def check_error(r) -> None:
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body, dict) and isinstance(body["error"], str) and isinstance(body["detail"], str), body


def post(client, path: str, content: bytes, content_type: str | None = "application/json"):
    headers = {"content-type": content_type} if content_type else {}
    return client.post(path, content=content, headers=headers)


def accepted(client, path: str, body, mode: int):
    """POST ``body`` encoded one of the ways.  The answer must be 200 or 400; a 400 must have the error
    shape (returns None); a 200 returns (response, the JSON the server decoded)."""
    content = encode(body, mode)
    r = post(client, path, content)
    assert r.status_code in (200, 400), (r.status_code, r.text[:300])
    event(f"HTTP {r.status_code}")
    if r.status_code == 400:
        check_error(r)
        return None
    return r, json.loads(content)  # what the server decoded (an escaped surrogate pair is one character)


@bounded(100)
@given(body=tag_bodies(), mode=st.integers(0, 1))
def test_tag_endpoint_answers_200_or_400(asgi_client, tagger, body, mode):
    answer = accepted(asgi_client, "/tag", body, mode)
    if answer is None:
        return
    # accepted: the input was a valid object with a valid text, and the answer has the documented shape
    r, seen = answer
    assert isinstance(seen, dict) and valid_text(seen.get("text")), repr(seen)[:200]
    res = r.json()
    assert isinstance(res["model"], str) and res["model"]
    # explain=None: pydantic's lax mode may have turned e.g. "3", 1.0 or true into an int
    check_result(res, tagger.topic_ids, plain_explain(seen))


@bounded(60)
@given(body=batch_bodies(), mode=st.integers(0, 1))
def test_tag_batch_endpoint_answers_200_or_400(asgi_client, tagger, body, mode):
    answer = accepted(asgi_client, "/tag_batch", body, mode)
    if answer is None:
        return
    r, seen = answer
    texts = seen["texts"]
    assert isinstance(texts, list) and 1 <= len(texts) <= MAX_BATCH and all(valid_text(t) for t in texts)
    results = r.json()
    assert isinstance(results, list) and len(results) == len(texts)
    for res in results:
        assert isinstance(res["model"], str) and res["model"]
        check_result(res, tagger.topic_ids, plain_explain(seen))


@bounded(50)
@given(text=st.one_of(hostile_text, st.sampled_from(SPECIAL)).filter(valid_text), explain=st.integers(0, MAX_EXPLAIN),
       mode=st.integers(0, 1))
def test_valid_requests_are_accepted(asgi_client, tagger, text, explain, mode):
    """The converse: every valid text and explain gets a 200 with the documented shape, in both endpoints."""
    r = post(asgi_client, "/tag", encode({"text": text, "explain": explain}, mode))
    assert r.status_code == 200, r.text[:300]
    res = r.json()
    check_result(res, tagger.topic_ids, explain)
    r = post(asgi_client, "/tag_batch", encode({"texts": [text, text], "explain": explain}, mode))
    assert r.status_code == 200, r.text[:300]
    a, b = r.json()
    assert a == b == res


@bounded(30)
@given(text=st.text(alphabet=st.characters(exclude_categories=()), min_size=1, max_size=20),
       path=st.sampled_from(["/tag", "/tag_batch"]))
def test_surrogates_in_json_are_refused_or_tagged(asgi_client, text, path):
    """Lone surrogates written as JSON escapes ("\\ud800"): refused with a 400, never a 5xx."""
    body = {"text": text} if path == "/tag" else {"texts": [text]}
    r = post(asgi_client, path, json.dumps(body).encode("ascii"))
    seen = json.loads(json.dumps(text))  # an escaped high+low pair decodes to one valid character
    assert r.status_code == (200 if valid_text(seen) else 400), r.text[:300]


def truncations(valid: bytes):
    return st.integers(0, len(valid)).map(lambda n: valid[:n])


raw_bodies = st.one_of(
    st.binary(max_size=300),
    truncations(json.dumps({"text": "避難所の備蓄について", "explain": 2}, ensure_ascii=False).encode()),
    truncations(json.dumps({"texts": ["防災", "学校給食"]}, ensure_ascii=False).encode()),
    st.builds(lambda a, junk, b: a + junk + b, st.sampled_from([b'{"text":"', b'{"texts":["']),
              st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x00",
                               b"\\u", b"\\ud800", b"\\", b"\xe3\x81"]),
              st.sampled_from([b'"}', b'"]}', b"", b'"', b"\\"])),
    st.builds(lambda n: b"[" * n + b"]" * n, st.integers(1, 100_000)),
    st.builds(lambda n: b'{"text":' + b"9" * n + b"}", st.integers(1, 10_000)),
)


@bounded(100)
@given(body=raw_bodies, path=st.sampled_from(["/tag", "/tag_batch"]),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", None,
                                     "application/octet-stream"]))
def test_raw_bytes_bodies(asgi_client, body, path, content_type):
    r = post(asgi_client, path, body, content_type)
    assert r.status_code in (200, 400), (body[:80], r.status_code, r.text[:300])
    event(f"HTTP {r.status_code}")
    if r.status_code == 400:
        check_error(r)


@bounded(30)
@given(body=raw_bodies, path=st.sampled_from(["/tag", "/tag_batch"]),
       content_type=st.sampled_from(["multipart/form-data", "multipart/form-data; boundary=x",
                                     "application/x-www-form-urlencoded"]))
def test_form_bodies_are_refused_not_crashed(asgi_client, body, path, content_type):
    """BentoML's form decoder answers 500 on bad forms: a form-typed body is taken only if it is JSON."""
    r = post(asgi_client, path, body, content_type)
    assert r.status_code in (200, 400, 415), (body[:80], r.status_code, r.text[:300])
    if r.status_code == 415:
        assert "application/json" in r.json()["error"]
    if content_type.startswith("multipart"):
        assert r.status_code == 415


def test_form_examples_that_used_to_be_500(asgi_client):
    for path, kwargs in [
        ("/tag", {"content": b'{"text":"x"}', "headers": {"content-type": "multipart/form-data; boundary=x"}}),
        ("/tag", {"files": {"text": ("a.txt", b"\xff\xfe")}}),
        ("/tag", {"content": b"text=" + b"[" * 100_000,
                  "headers": {"content-type": "application/x-www-form-urlencoded"}}),
    ]:
        r = asgi_client.post(path, **kwargs)
        assert r.status_code == 415, r.text[:200]
    assert asgi_client.post("/tag", content=b"\x80\x04N.",
                            headers={"content-type": "application/vnd.bentoml+pickle"}).status_code == 415


def test_curl_style_form_with_json_body_is_accepted(asgi_client):
    """`curl -d '{"text": ...}'` sends application/x-www-form-urlencoded: a JSON body is taken as JSON."""
    r = asgi_client.post("/tag", content='{"text":"避難所の備蓄について伺います"}'.encode(),
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and "disaster" in r.json()["scores"]


def test_error_bodies_have_one_shape_naming_the_field(asgi_client):
    r = asgi_client.post("/tag", json={"text": " "})
    assert r.status_code == 400 and r.json()["error"] == "text: must not be empty or whitespace only"
    r = asgi_client.post("/tag", json={"text": 5})
    assert r.status_code == 400 and r.json()["error"].startswith("text: ")
    r = asgi_client.post("/tag_batch", json={"texts": ["ok", 3]})
    assert r.status_code == 400 and r.json()["error"].startswith("texts.1: ")
    r = asgi_client.post("/tag_batch", json={"texts": ["x"] * 1001})
    assert "over the limit of 1,000" in r.json()["error"]
