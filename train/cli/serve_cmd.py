"""``gikai-topics serve``: run the BentoML HTTP service."""

from __future__ import annotations

from typing import Optional

import typer

from . import app


@app.command("serve")
def serve_cmd(
    model: Optional[str] = typer.Option(None, "--model", help="BentoML tag or model directory (default gikai-topics:latest)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(3000, help="Port to listen on."),
    workers: Optional[int] = typer.Option(None, help="Worker processes (default: GIKAI_TOPICS_WORKERS or 1)."),
    threads: Optional[int] = typer.Option(None, help="Threads per worker, each with its own Sudachi tokenizer "
                                          "(default: GIKAI_TOPICS_THREADS or 4)."),
) -> None:
    """Serve the model over HTTP: POST /tag, POST /tag_batch, GET /topics, /readyz, /metrics, / (OpenAPI UI)."""
    from ..serving import run_server

    raise typer.Exit(run_server(model=model, host=host, port=port, workers=workers, threads=threads))
