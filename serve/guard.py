"""The HTTP request guard: an ASGI middleware in front of BentoML (``RequestGuard``) and its helpers.

It knows nothing of the service: what it needs from it, the body limit and the fields each endpoint takes, is
passed to its constructor as keyword options: ``serve.service`` gives them from its settings (its ``RequestGuard``,
the one registered with ``TopicTagger.add_asgi_middleware``).  It imports nothing from this project.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Mapping

from starlette.datastructures import Headers
from starlette.responses import JSONResponse


class RequestGuard:
    """ASGI middleware in front of BentoML: JSON in, one error shape out, never a 5xx from bad input.

    * ``curl -d '{"text": …}'`` sends ``application/x-www-form-urlencoded``; a form-typed body that is
      valid JSON is passed on as JSON.  Other form bodies and multipart get a 415 naming the expected
      type: BentoML's form decoder answers 500 on a malformed multipart body, a non-UTF-8 file part or a
      deeply nested field.  Pickle bodies are refused too.
    * A body over ``max_body_bytes()`` (GIKAI_TOPICS_MAX_BODY_BYTES) gets a 413 and is never passed on: at once
      when its Content-Length says so, without reading it; else (chunked) as soon as the bytes that have
      arrived pass the limit.  Every POST body is read here, up to the limit, before BentoML is called (its
      JSON decoder reads the whole body before parsing it anyway), then handed on as it arrived.
    * A UTF-8 byte-order mark opening a body is dropped, as predict and the corpus readers drop one.
    * Every 4xx JSON body becomes ``{"error": "<field>: <what is wrong>", "detail": "…"}``: BentoML
      sends our own messages as a one-element list and pydantic's with ``detail`` as a list.  An unknown
      field's error lists the fields the endpoint takes (``input_fields``, by path).

    Options (keywords, as ``add_asgi_middleware(RequestGuard, **options)`` passes them):

    * ``max_body_bytes``: a function giving the largest body read, in bytes; called at each request, so that the
      limit in force is the one the service's settings hold then (the tests import the service again under other
      settings and keep the app already built);
    * ``input_fields``: the fields each endpoint takes, by path (``{"/tag": ("text", "explain"), …}``).
    """

    FORM_TYPES = ("application/x-www-form-urlencoded",)
    REFUSED_TYPES = ("multipart/form-data", "application/vnd.bentoml+pickle")

    def __init__(self, app, *, max_body_bytes: Callable[[], int],
                 input_fields: Mapping[str, tuple[str, ...]]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.input_fields = input_fields

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        # the media type exactly as BentoML picks its decoder (app.py: api_endpoint)
        media_type = headers.get("content-type", "application/json").split(";")[0].strip()
        if media_type in self.REFUSED_TYPES:
            await self._refuse(media_type, scope, receive, send)
            return
        limit = self.max_body_bytes()  # asked at each request: the limit in force now
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            await self._too_large(f"{declared:,} bytes (its Content-Length)", limit, scope, receive, send)
            return
        try:
            chunks = await _read_body(receive, limit)
        except BodyTooLarge as exc:
            sent = "sent without a Content-Length" if declared is None else f"its Content-Length said {declared:,}"
            await self._too_large(f"at least {exc.size:,} bytes ({sent}; reading stopped there)", limit,
                                  scope, receive, send)
            return
        if chunks is None:  # the client went away while sending: nobody to answer
            return
        if media_type in self.FORM_TYPES:
            chunks = deque([b"".join(chunks)])
            if not _is_json(chunks[0]):
                await self._refuse(media_type, scope, receive, send)
                return
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"] + [
                (b"content-type", b"application/json")]
        receive = _without_byte_order_mark(_replay(chunks, receive))
        await self.app(scope, receive, _normalise_errors(send, self.input_fields.get(scope.get("path", ""))))

    @staticmethod
    async def _refuse(media_type: str, scope, receive, send) -> None:
        body = {"error": f"content-type {media_type} is not supported: send a JSON body with "
                         "content-type: application/json",
                "detail": "the API takes JSON only"}
        await JSONResponse(body, status_code=415)(scope, receive, send)

    @staticmethod
    async def _too_large(size: str, limit: int, scope, receive, send) -> None:
        body = {"error": f"body: {size} is over the limit of {limit:,} bytes; send fewer texts per call (split the "
                         "batch), or raise GIKAI_TOPICS_MAX_BODY_BYTES on the server",
                "detail": "request body too large (GIKAI_TOPICS_MAX_BODY_BYTES)"}
        await JSONResponse(body, status_code=413)(scope, receive, send)


class BodyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"{size:,} bytes read")
        self.size = size


def _content_length(headers: Headers) -> int | None:
    """The declared body size; None when absent or not a number (the server refuses those before we see them;
    the bytes are counted as they arrive either way)."""
    value = headers.get("content-length", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


async def _read_body(receive, limit: int) -> deque[bytes] | None:
    """The body's chunks as they arrived, counted as they arrive: raises BodyTooLarge as soon as they pass
    ``limit`` bytes (nothing more is read); None when the client disconnects first."""
    chunks, size = deque(), 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(size)
        chunks.append(chunk)
        if not message.get("more_body"):
            return chunks


BYTE_ORDER_MARK = b"\xef\xbb\xbf"


def _without_byte_order_mark(receive):
    """``receive`` with a UTF-8 byte-order mark opening the body dropped: editors on Windows save one, JSON readers may
    ignore it (RFC 8259, 8.1), and predict and the corpus readers do; the JSON parser would refuse the body."""
    first = True

    async def wrapped():
        nonlocal first
        message = await receive()
        if first and message["type"] == "http.request":
            first = False
            body = message.get("body", b"")
            if body.startswith(BYTE_ORDER_MARK):
                message = {**message, "body": body[len(BYTE_ORDER_MARK):]}
        return message

    return wrapped


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
        return True
    except (ValueError, RecursionError):
        return False


def _replay(chunks: deque[bytes], receive):
    """``receive`` for the app behind: the body's chunks read already, one message each as they arrived, then
    the server's own ``receive`` (a disconnect, when it comes).  Each chunk is taken out of ``chunks`` as it is
    handed on, so that the body is held once, by the app, as before."""

    async def replayed():
        if chunks:
            return {"type": "http.request", "body": chunks.popleft(), "more_body": bool(chunks)}
        return await receive()

    return replayed


def error_body(payload, fields: tuple[str, ...] | None = None) -> dict:
    """One shape for every 4xx: ``{"error": str, "detail": str}``, the error naming the field.
    ``fields``: the fields the endpoint takes, listed when the request has one it does not."""
    if isinstance(payload, list) and len(payload) == 1 and isinstance(payload[0], dict):
        payload = payload[0]
    if not isinstance(payload, dict):
        return {"error": str(payload), "detail": str(payload)}
    detail = payload.get("detail")
    if isinstance(detail, list):  # pydantic errors: name each field
        parts = []
        for d in detail:
            if isinstance(d, dict):
                loc = ".".join(str(x) for x in d.get("loc", ())) or "body"
                parts.append(f"{loc}: {_pydantic_message(d, fields)}")
        message = "; ".join(parts) or str(payload.get("error", "invalid request"))
        return {"error": message, "detail": str(payload.get("error", message))}
    message = str(payload.get("error", "invalid request"))
    return {"error": message, "detail": str(detail) if detail is not None else message}


# What pydantic's JSON parser says of an escaped half of a surrogate pair ("\ud800" alone): a high half followed
# by no \u escape is an "unexpected end of hex escape", any other half a "lone leading surrogate"
_HALF_SURROGATE = re.compile(r"^Invalid JSON: (?:unexpected end of hex escape|lone leading surrogate in hex escape) "
                             r"at (line \d+ column \d+)$")


def _pydantic_message(error: dict, fields: tuple[str, ...] | None) -> str:
    kind = error.get("type")
    if kind == "json_invalid" and (half := _HALF_SURROGATE.match(str(error.get("msg", "")))):
        return (f"invalid JSON at {half[1]}: a \\u escape of half a surrogate pair (\\ud800-\\udfff) without its other "
                "half; expected valid Unicode text: send the character itself in UTF-8, or both halves of its pair")
    if kind == "extra_forbidden":
        takes = f"this endpoint takes only {', '.join(fields)}" if fields else "this endpoint does not take it"
        return f"unknown field; {takes}: check the spelling, or remove it"
    if kind == "missing":
        return "required, but missing from the request body"
    return str(error.get("msg", "invalid"))


def _normalise_errors(send, fields: tuple[str, ...] | None = None):
    state = {"rewrite": False, "start": None, "body": []}

    async def wrapped(message):
        if message["type"] == "http.response.start":
            content_type = dict(message.get("headers", [])).get(b"content-type", b"")
            if 400 <= message["status"] < 500 and content_type.startswith(b"application/json"):
                state["rewrite"], state["start"] = True, message
                return
            await send(message)
            return
        if message["type"] == "http.response.body" and state["rewrite"]:
            state["body"].append(message.get("body", b""))
            if message.get("more_body"):
                return
            raw = b"".join(state["body"])
            try:
                body = json.dumps(error_body(json.loads(raw), fields), ensure_ascii=False).encode("utf-8")
            except ValueError:
                body = raw
            start = state["start"]
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await send(message)

    return wrapped
