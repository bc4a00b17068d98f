"""gikai-topics over HTTP (BentoML).

    bentoml serve serve.service:TopicTagger            # or: gikai-topics serve

Endpoints: ``POST /tag``, ``POST /tag_batch``, ``GET /topics``, plus BentoML's
``/readyz``, ``/livez``, ``/metrics`` (Prometheus) and ``/docs`` (OpenAPI).

Settings (environment variables):

* ``GIKAI_TOPICS_MODEL``: BentoML tag (default ``gikai-topics:latest``) or a model directory;
* ``GIKAI_TOPICS_MAX_CHARS``: longest text accepted (default 20,000 characters);
* ``GIKAI_TOPICS_MAX_BATCH``: most texts per ``/tag_batch`` call (default 1,000);
* ``GIKAI_TOPICS_MAX_EXPLAIN``: most terms per topic for ``explain`` (default 50);
* ``GIKAI_TOPICS_WORKERS`` / ``GIKAI_TOPICS_THREADS``: processes and threads per process.

This module imports only ``train.inference`` from the training package.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any

import bentoml
from bentoml.exceptions import InvalidArgument, ServiceUnavailable
from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from train.inference import InputError, ModelError, Tagger, load_model

logger = logging.getLogger("gikai_topics.serve")

MODEL_REF = os.environ.get("GIKAI_TOPICS_MODEL", "gikai-topics:latest")
MAX_CHARS = int(os.environ.get("GIKAI_TOPICS_MAX_CHARS", "20000"))
MAX_BATCH = int(os.environ.get("GIKAI_TOPICS_MAX_BATCH", "1000"))
MAX_EXPLAIN = int(os.environ.get("GIKAI_TOPICS_MAX_EXPLAIN", "50"))
WORKERS = int(os.environ.get("GIKAI_TOPICS_WORKERS", "1"))
THREADS = int(os.environ.get("GIKAI_TOPICS_THREADS", "4"))

_MODEL_IS_DIR = Path(MODEL_REF).is_dir()

EXAMPLE_TEXT = "マイナンバーカードを活用した行政手続のオンライン化について、区の今後の取組を伺います。"


def check_text(text: Any, field: str) -> str:
    """The validation every text gets; raises InvalidArgument (HTTP 400) naming the field and the limit."""
    if not isinstance(text, str):
        raise InvalidArgument(f"{field}: expected a string, found {type(text).__name__}")
    if not text.strip():
        raise InvalidArgument(f"{field}: must not be empty or whitespace only")
    if len(text) > MAX_CHARS:
        raise InvalidArgument(f"{field}: {len(text):,} characters is over the limit of {MAX_CHARS:,}")
    return text


def check_explain(explain: Any) -> int:
    if not isinstance(explain, int) or isinstance(explain, bool) or not 0 <= explain <= MAX_EXPLAIN:
        raise InvalidArgument(f"explain: expected an integer from 0 to {MAX_EXPLAIN}, found {explain!r}")
    return explain


async def topics_endpoint(request: Request) -> JSONResponse:
    service = bentoml.get_current_service()
    if service is None or service.tagger is None:
        return JSONResponse({"error": f"model not loaded: {getattr(service, 'load_error', 'starting')}"},
                            status_code=503)
    return JSONResponse(service.topics_info())


extra_routes = Starlette(routes=[Route("/topics", topics_endpoint, methods=["GET"])])


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

    def _tag(self, texts: list[str], explain: int) -> list[dict]:
        tagger = self._require()
        try:
            results = tagger.tag(texts, explain=explain)
        except InputError as exc:
            raise InvalidArgument(str(exc)) from None
        for r in results:
            r["model"] = tagger.tag_name
        return results

    @bentoml.api(route="/tag")
    def tag(
        self,
        text: Annotated[str, Field(description=f"One utterance (1 to {MAX_CHARS:,} characters).",
                                   examples=[EXAMPLE_TEXT])],
        explain: Annotated[int, Field(description="Top contributing terms per assigned topic (0 = none).",
                                      examples=[0, 5])] = 0,
    ) -> dict:
        """Topics over threshold, a score per topic and, with ``explain``, the terms behind each topic."""
        return self._tag([check_text(text, "text")], check_explain(explain))[0]

    @bentoml.api(route="/tag_batch")
    def tag_batch(
        self,
        texts: Annotated[list[str], Field(description=f"1 to {MAX_BATCH:,} utterances, each 1 to {MAX_CHARS:,} "
                                                      "characters; results come back in input order.",
                                          examples=[[EXAMPLE_TEXT, "避難所の備蓄物資について伺います。"]])],
        explain: Annotated[int, Field(description="Top contributing terms per assigned topic (0 = none).")] = 0,
    ) -> list[dict]:
        """Tag many utterances in one call (results in input order)."""
        if not isinstance(texts, list):
            raise InvalidArgument(f"texts: expected a list of strings, found {type(texts).__name__}")
        if not texts:
            raise InvalidArgument("texts: must contain at least one text")
        if len(texts) > MAX_BATCH:
            raise InvalidArgument(f"texts: {len(texts):,} texts is over the limit of {MAX_BATCH:,} per call")
        checked = [check_text(t, f"texts[{i}]") for i, t in enumerate(texts)]
        return self._tag(checked, check_explain(explain))

    def topics_info(self) -> dict:
        info = self._require().info()
        info["limits"] = {"max_chars": MAX_CHARS, "max_batch": MAX_BATCH, "max_explain": MAX_EXPLAIN}
        return info
