"""gikai-topics over HTTP (BentoML).

    bentoml serve serve.service:TopicTagger            # or: gikai-topics serve

Endpoints: ``POST /tag``, ``POST /tag_batch``, ``GET /topics``, plus BentoML's
``/readyz``, ``/livez``, ``/metrics`` (Prometheus), ``/`` (OpenAPI UI) and ``/docs.json`` (OpenAPI spec).

Settings (environment variables):

* ``GIKAI_TOPICS_MODEL``: BentoML tag (default ``gikai-topics:latest``) or a model directory;
* ``GIKAI_TOPICS_MAX_CHARS``: longest text accepted (default 20,000 characters);
* ``GIKAI_TOPICS_MAX_BATCH``: most texts per ``/tag_batch`` call (default 1,000);
* ``GIKAI_TOPICS_MAX_EXPLAIN``: most terms per topic for ``explain`` (default 50);
* ``GIKAI_TOPICS_MAX_BODY_BYTES``: largest request body read, in bytes; a larger one is answered 413 unread
  (default: the largest valid ``/tag_batch`` body under the two limits above, every character counted at its
  longest JSON escape: 240,020,096 bytes with their defaults);
* ``GIKAI_TOPICS_WORKERS`` / ``GIKAI_TOPICS_THREADS``: processes and threads per process.

They are read by ``train.inference.service_settings``, the same function ``gikai-topics serve`` checks
them with; a variable set to the empty string counts as unset.

This module imports only ``train.inference`` from the training package.
"""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from pathlib import Path
from typing import Annotated, Any

import bentoml
from bentoml.exceptions import InvalidArgument, ServiceUnavailable
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_serializer
from pydantic_core import PydanticCustomError
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from train.inference import InputError, Tagger, load_model, service_settings

logger = logging.getLogger("gikai_topics.serve")

SETTINGS = service_settings()  # raises InputError naming the variable when one is invalid
MODEL_REF = SETTINGS.model
MAX_CHARS = SETTINGS.max_chars
MAX_BATCH = SETTINGS.max_batch
MAX_EXPLAIN = SETTINGS.max_explain
MAX_BODY_BYTES = SETTINGS.max_body_bytes
WORKERS = SETTINGS.workers
THREADS = SETTINGS.threads

_MODEL_IS_DIR = Path(MODEL_REF).is_dir()

EXAMPLE_TEXT = "マイナンバーカードを活用した行政手続のオンライン化について、区の今後の取組を伺います。"


def found(value: Any) -> str:
    """A value as the client wrote it, for error messages: JSON literals, the string quoted, and only a
    description when long.  Always encodable: a lone surrogate is written as its JSON escape."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= 30 else f"a number {len(text):,} characters long"
    if isinstance(value, str):
        return f"the string {_quoted(value)}" if len(value) <= 30 else f"a string of {len(value):,} characters"
    if isinstance(value, list):
        return f"a list of {len(value):,} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _quoted(value: str) -> str:
    """``value`` in JSON quotes, non-ASCII kept readable unless it cannot be encoded (lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def check_text(text: Any, field: str) -> str:
    """The validation every text gets; raises InvalidArgument (HTTP 400) naming the field and the limit."""
    if not isinstance(text, str):
        raise InvalidArgument(f"{field}: expected a string, found {found(text)}")
    if not text.strip():
        raise InvalidArgument(f"{field}: must not be empty or whitespace only")
    if len(text) > MAX_CHARS:
        raise InvalidArgument(f"{field}: {len(text):,} characters is over the limit of {MAX_CHARS:,}")
    return text


def check_explain(explain: Any) -> int:
    if not isinstance(explain, int) or isinstance(explain, bool) or not 0 <= explain <= MAX_EXPLAIN:
        raise InvalidArgument(f"explain: expected an integer from 0 to {MAX_EXPLAIN}, found {found(explain)}")
    return explain


# The request bodies.  Strict: a JSON value of the wrong type is refused, never converted ("3", 2.0 and
# true are not an explain of 3, 2 or 1), and a field the endpoint does not take (a misspelt optional field
# such as "explian") is refused instead of ignored.  Each type check runs before pydantic's own, so the
# 400 says what was expected and what was found; the values are checked by check_text / check_explain.


def _json_type(expected: str, accepts) -> BeforeValidator:
    def check(value: Any) -> Any:
        if not accepts(value):
            # no context: the message is not a template, so braces in what was found stay as they are
            raise PydanticCustomError("wrong_type", f"expected {expected}, found {found(value)}")
        return value

    return BeforeValidator(check)


# The limits are stated in the schema too (/docs.json), from the settings in force; only stated: the checks above
# make the messages, and a text of blanks, within the lengths, is still refused.
TEXT_BOUNDS = {"minLength": 1, "maxLength": MAX_CHARS}
JsonString = Annotated[str, _json_type("a string", lambda v: isinstance(v, str))]
JsonText = Annotated[JsonString, Field(json_schema_extra=TEXT_BOUNDS)]
JsonStrings = Annotated[list[JsonText], _json_type("a list of strings", lambda v: isinstance(v, list))]
JsonExplain = Annotated[int, _json_type(f"an integer from 0 to {MAX_EXPLAIN}", lambda v: type(v) is int),
                        Field(json_schema_extra={"minimum": 0, "maximum": MAX_EXPLAIN})]
EXPLAIN_DOC = (f"Top contributing terms per assigned topic, 0 to {MAX_EXPLAIN} (GIKAI_TOPICS_MAX_EXPLAIN); "
               "0 = none.")


class StrictBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class TagRequest(StrictBody):
    """The body of ``POST /tag``."""

    text: Annotated[JsonText, Field(description=f"One utterance (1 to {MAX_CHARS:,} characters, not only blanks).",
                                    examples=[EXAMPLE_TEXT])]
    explain: Annotated[JsonExplain, Field(description=EXPLAIN_DOC, examples=[0, 5])] = 0


class TagBatchRequest(StrictBody):
    """The body of ``POST /tag_batch``."""

    texts: Annotated[JsonStrings, Field(description=f"1 to {MAX_BATCH:,} utterances, each 1 to {MAX_CHARS:,} "
                                                    "characters; results come back in input order.",
                                        examples=[[EXAMPLE_TEXT, "避難所の備蓄物資について伺います。"]],
                                        json_schema_extra={"minItems": 1, "maxItems": MAX_BATCH})]
    explain: Annotated[JsonExplain, Field(description=EXPLAIN_DOC)] = 0


class TagResult(BaseModel):
    """One utterance's topics: what ``POST /tag`` answers, and each item of ``POST /tag_batch``'s answer."""

    # BentoML re-validates /tag_batch's list against the class the endpoint was declared with; reading fields
    # by attribute also accepts this class as loaded again (a test reloading the module with other settings)
    model_config = ConfigDict(from_attributes=True)

    topics: list[str] = Field(description="Ids of the topics whose score reaches the topic's threshold, in "
                                          "taxonomy order; empty when none does.", examples=[["dx", "privacy"]])
    scores: dict[str, float] = Field(description="Every topic's probability, to 4 decimals. A listed topic's "
                                                 "score is never shown below its threshold, nor another's at or "
                                                 "above it (GET /topics gives the thresholds).",
                                     examples=[{"dx": 0.9731, "privacy": 0.7402, "disaster": 0.0123}])
    terms: dict[str, list[tuple[str, float]]] | None = Field(
        None, description="Only when explain > 0: for each listed topic (or the best-scoring topic when none is "
                          "listed), up to explain [term, contribution] pairs, largest contribution first. Absent "
                          "otherwise.", examples=[{"dx": [["マイナンバーカード", 2.41], ["オンライン", 1.87]]}])
    model: str = Field(description="The model that tagged it: its BentoML tag, or the model folder.")

    @model_serializer(mode="wrap")
    def _absent_terms_left_out(self, handler):  # no return annotation: the schema stays the fields
        data = handler(self)
        if data.get("terms") is None:  # the answer has "terms" only when explanations were asked for
            data.pop("terms", None)
        return data


# the fields each endpoint takes, for the message that refuses an unknown one
INPUT_FIELDS = {"/tag": tuple(TagRequest.model_fields), "/tag_batch": tuple(TagBatchRequest.model_fields)}


async def topics_endpoint(request: Request) -> JSONResponse:
    service = bentoml.get_current_service()
    if service is None or service.tagger is None:
        return JSONResponse({"error": f"model not loaded: {getattr(service, 'load_error', 'starting')}"},
                            status_code=503)
    return JSONResponse(service.topics_info())


extra_routes = Starlette(routes=[Route("/topics", topics_endpoint, methods=["GET"])])


class RequestGuard:
    """ASGI middleware in front of BentoML: JSON in, one error shape out, never a 5xx from bad input.

    * ``curl -d '{"text": …}'`` sends ``application/x-www-form-urlencoded``; a form-typed body that is
      valid JSON is passed on as JSON.  Other form bodies and multipart get a 415 naming the expected
      type: BentoML's form decoder answers 500 on a malformed multipart body, a non-UTF-8 file part or a
      deeply nested field.  Pickle bodies are refused too.
    * A body over ``MAX_BODY_BYTES`` (GIKAI_TOPICS_MAX_BODY_BYTES) gets a 413 and is never passed on: at once
      when its Content-Length says so, without reading it; else (chunked) as soon as the bytes that have
      arrived pass the limit.  Every POST body is read here, up to the limit, before BentoML is called (its
      JSON decoder reads the whole body before parsing it anyway), then handed on as it arrived.
    * A UTF-8 byte-order mark opening a body is dropped, as predict and the corpus readers drop one.
    * Every 4xx JSON body becomes ``{"error": "<field>: <what is wrong>", "detail": "…"}``: BentoML
      sends our own messages as a one-element list and pydantic's with ``detail`` as a list.  An unknown
      field's error lists the fields the endpoint takes (``INPUT_FIELDS``, by path).
    """

    FORM_TYPES = ("application/x-www-form-urlencoded",)
    REFUSED_TYPES = ("multipart/form-data", "application/vnd.bentoml+pickle")

    def __init__(self, app) -> None:
        self.app = app

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
        limit = MAX_BODY_BYTES  # read when used, as check_text reads MAX_CHARS
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
        await self.app(scope, receive, _normalise_errors(send, INPUT_FIELDS.get(scope.get("path", ""))))

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


@bentoml.asgi_app(extra_routes, path="/")
@bentoml.service(
    name="gikai_topics",
    workers=WORKERS,
    threads=THREADS,
    traffic={"timeout": 120},
    http={"cors": {"enabled": False}},
)
class TopicTagger:
    """Tags utterances of Japanese local-assembly minutes with policy topics."""

    model_ref = None if _MODEL_IS_DIR else bentoml.models.BentoModel(MODEL_REF)

    def __init__(self) -> None:
        self.tagger: Tagger | None = None
        self.load_error: str | None = None
        try:
            if _MODEL_IS_DIR:
                self.tagger = load_model(MODEL_REF)
            else:
                stored = self.model_ref
                self.tagger = load_model(stored.path)
                self.tagger.tag_name = str(stored.tag)
            logger.info("loaded model %s", self.tagger.tag_name)
        except Exception as exc:  # a damaged model must not crash-loop the server: not ready, reason logged
            self.load_error = f"{type(exc).__name__}: {exc}"
            logger.error("model %s could not be loaded: %s", MODEL_REF, self.load_error)

    def __is_ready__(self) -> bool:
        return self.tagger is not None

    def _require(self) -> Tagger:
        if self.tagger is None:
            raise ServiceUnavailable(f"model not loaded: {self.load_error}")
        return self.tagger

    def _tag(self, texts: list[str], explain: int) -> list[TagResult]:
        tagger = self._require()
        try:
            results = tagger.tag(texts, explain=explain)
        except InputError as exc:
            raise InvalidArgument(str(exc)) from None
        return [TagResult(**r, model=tagger.tag_name) for r in results]

    @bentoml.api(route="/tag", input_spec=TagRequest)
    def tag(self, text: str, explain: int = 0) -> TagResult:
        """Topics over threshold, a score per topic and, with ``explain``, the terms behind each topic."""
        return self._tag([check_text(text, "text")], check_explain(explain))[0]

    @bentoml.api(route="/tag_batch", input_spec=TagBatchRequest)
    def tag_batch(self, texts: list[str], explain: int = 0) -> list[TagResult]:
        """Tag many utterances in one call (results in input order)."""
        if not isinstance(texts, list):
            raise InvalidArgument(f"texts: expected a list of strings, found {found(texts)}")
        if not texts:
            raise InvalidArgument("texts: must contain at least one text")
        if len(texts) > MAX_BATCH:
            raise InvalidArgument(f"texts: {len(texts):,} texts is over the limit of {MAX_BATCH:,} per call")
        checked = [check_text(t, f"texts[{i}]") for i, t in enumerate(texts)]
        return self._tag(checked, check_explain(explain))

    def topics_info(self) -> dict:
        info = self._require().info()
        info["limits"] = {"max_chars": MAX_CHARS, "max_batch": MAX_BATCH, "max_explain": MAX_EXPLAIN,
                          "max_body_bytes": MAX_BODY_BYTES}
        return info


TopicTagger.add_asgi_middleware(RequestGuard)
