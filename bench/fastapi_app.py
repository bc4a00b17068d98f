"""A minimal FastAPI + uvicorn server for the same model, as a reference point for BentoML's overhead.

    GIKAI_TOPICS_MODEL=<model dir or tag> python -m uvicorn bench.fastapi_app:app --host 127.0.0.1 --port 8000

Same endpoints and bodies as ``serve.service`` (``POST /tag``, ``POST /tag_batch``,
``GET /readyz``), the same input checks (empty, too long, too many texts →
400), the same ``Tagger.tag`` call, and the same number of worker threads
(``GIKAI_TOPICS_THREADS``, default 4: the size of the thread pool the sync
endpoints run in).  Nothing else: no metrics, no tracing, no OpenAPI extras
beyond FastAPI's own.
"""

from __future__ import annotations

import contextlib

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from train.inference import InputError, load_model, service_settings

SETTINGS = service_settings()  # the same GIKAI_TOPICS_* reading and checks as the BentoML service
MODEL_REF, MAX_CHARS, MAX_BATCH, THREADS = SETTINGS.model, SETTINGS.max_chars, SETTINGS.max_batch, SETTINGS.threads

tagger = load_model(MODEL_REF)


@contextlib.asynccontextmanager
async def lifespan(_app):
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
    yield


app = FastAPI(title="gikai-topics (FastAPI reference)", lifespan=lifespan)


class TagIn(BaseModel):
    text: str
    explain: int = 0


class BatchIn(BaseModel):
    texts: list[str]
    explain: int = 0


def _check(text: str, field: str) -> str:
    if not text.strip():
        raise HTTPException(400, f"{field}: must not be empty or whitespace only")
    if len(text) > MAX_CHARS:
        raise HTTPException(400, f"{field}: {len(text):,} characters is over the limit of {MAX_CHARS:,}")
    return text


def _tag(texts: list[str], explain: int) -> list[dict]:
    if not 0 <= explain <= 50:
        raise HTTPException(400, f"explain: expected an integer from 0 to 50, found {explain!r}")
    try:
        results = tagger.tag(texts, explain=explain)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    for r in results:
        r["model"] = tagger.tag_name
    return results


@app.get("/readyz")
def readyz() -> dict:
    return {"ready": True, "model": tagger.tag_name}


@app.post("/tag")
def tag(body: TagIn) -> dict:
    return _tag([_check(body.text, "text")], body.explain)[0]


@app.post("/tag_batch")
def tag_batch(body: BatchIn) -> list[dict]:
    if not body.texts:
        raise HTTPException(400, "texts: must contain at least one text")
    if len(body.texts) > MAX_BATCH:
        raise HTTPException(400, f"texts: {len(body.texts):,} texts is over the limit of {MAX_BATCH:,} per call")
    return _tag([_check(t, f"texts[{i}]") for i, t in enumerate(body.texts)], body.explain)
