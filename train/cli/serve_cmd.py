"""``gikai-topics serve``: run the BentoML HTTP service."""

from __future__ import annotations

from typing import Optional

import typer

from ..serving import run_server
from . import app


@app.command("serve")
def serve_cmd(
    model: Optional[str] = typer.Option(None, "--model", help="BentoML tag or model directory (default gikai-topics:latest)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(3000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Worker processes."),
    threads: int = typer.Option(4, help="Threads per worker (each keeps its own Sudachi tokenizer)."),
) -> None:
    """Serve the model over HTTP: POST /tag, POST /tag_batch, GET /topics, /readyz, /metrics, /docs."""
    raise typer.Exit(run_server(model=model, host=host, port=port, workers=workers, threads=threads))
