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

The HTTP request guard (JSON only, the body limit, one error shape) is ``serve.guard``; this module gives it
the settings.  This module imports only ``train.inference`` from the training package.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import bentoml
from bentoml.exceptions import InvalidArgument, ServiceUnavailable
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_serializer
from pydantic_core import PydanticCustomError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from serve import guard
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


def body_limit() -> int:
    """The body limit in force (GIKAI_TOPICS_MAX_BODY_BYTES): the guard asks at each request, as check_text reads
    MAX_CHARS when it runs, so this module imported again under other settings applies them to the app built."""
    return MAX_BODY_BYTES


class RequestGuard(guard.RequestGuard):
    """``serve.guard.RequestGuard`` with this service's settings as its options: built from the app alone, by
    BentoML (``add_asgi_middleware`` below) and by tests."""

    def __init__(self, app) -> None:
        super().__init__(app, max_body_bytes=body_limit, input_fields=INPUT_FIELDS)


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
