"""``gikai-topics vectors ...``: learn the word vectors the model uses beside TF-IDF."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import console, default_path, progress_printer

vectors_app = typer.Typer(help="Word vectors for the mean-vector features: learned from the unlabeled corpus "
                          "(build), or general-domain ones from chiVe (general).", no_args_is_help=True)
app.add_typer(vectors_app, name="vectors")


@vectors_app.command("build")
def build_cmd(
    paths: Optional[list[Path]] = typer.Argument(None, help="Corpus files or folders (default: the bundled seeds/)."),
    out: Path = typer.Option(..., "--out", help="Where to write the vectors (.npz)."),
    exclude_assembly: list[str] = typer.Option([], "--exclude-assembly", help="Leave this assembly's text out."),
    dim: int = typer.Option(100, help="Vector size."),
    epochs: int = typer.Option(5, help="Passes over the corpus."),
    min_count: int = typer.Option(3, help="Ignore words seen fewer times."),
    workers: int = typer.Option(1, help="word2vec threads (1 = reproducible) and analysis processes."),
    config: Optional[Path] = typer.Option(None, "--config", help="Training config (TOML) whose \\[analyzer] "
                                          "settings to analyse the corpus with (default: the default analyzer)."),
) -> None:
    """Learn skip-gram word2vec vectors over the analysed corpus; write them atomically."""
    from ..atomic import check_writable
    from ..config import load_config
    from ..corpus import read_corpus
    from ..vectors import VectorSettings
    from ..vectors_build import build_vectors

    settings = VectorSettings(dim=dim, epochs=epochs, min_count=min_count, workers=workers)
    analyzer = load_config(config).analyzer  # vectors only fit models of the analyzer they were built with
    paths = paths or [default_path("seeds")]
    # `--out corpus.jsonl` would replace the corpus with the vectors
    check_writable(out, "--out", inputs=[*paths, *([config] if config else [])])
    with progress_printer() as progress:
        wv = build_vectors(read_corpus(paths), analyzer, settings,
                           exclude_assemblies=exclude_assembly, tokenize_workers=workers, progress=progress)
        wv.save(out)
    console.print(f"wrote {out}: {len(wv.words):,} words x {wv.dim} from {wv.meta['utterances']:,} utterances "
                  f"({wv.meta['tokens']:,} tokens) in {wv.meta['seconds']}s")


@vectors_app.command("info")
def info_cmd(
    path: str = typer.Argument("bundled", help="A vectors file, or 'bundled'."),
    general: bool = typer.Option(False, "--general", help="'bundled' means the bundled general-domain vectors."),
) -> None:
    """What a vectors file was learned from."""
    from ..vectors import load_vectors

    wv = load_vectors(path, general=general, any_kind=True, option="vectors info")
    m = wv.meta
    if m.get("kind") == "general":
        from ..general_vectors import describe

        console.print(describe(wv))
    else:
        console.print(f"{len(wv.words):,} words x {wv.dim}; {m.get('utterances', 0):,} utterances, "
                      f"{m.get('tokens', 0):,} tokens; left out: {', '.join(m.get('excluded_assemblies') or []) or 'none'}")
    console.print(f"settings {m.get('settings')}; analyzer key {wv.analyzer_key}; sha256 {wv.sha256[:16]}…")


@vectors_app.command("general")
def general_cmd(
    source: Path = typer.Argument(..., help="The ja_ginza wheel (pip download ja_ginza==5.3.0 --no-deps), or an "
                                            "unpacked spaCy pipeline's vocab/ folder."),
    out: Path = typer.Option(..., "--out", help="Where to write the general vectors (.npz)."),
    vocabulary: str = typer.Option("bundled", help="Vectors file whose words to keep ('bundled': our own)."),
    dim: int = typer.Option(100, help="Dimensions kept by PCA."),
) -> None:
    """General-domain vectors (chiVe) for our vocabulary, PCA-reduced; use with features.general_vectors."""
    from ..atomic import check_writable
    from ..general_vectors import SpacyVectorTable, build_general_vectors, describe
    from ..vectors import load_vectors, resolve_path

    # neither the wheel nor the vocabulary file (the bundled one too) may be overwritten by the result
    check_writable(out, "--out", inputs=[source, resolve_path(vocabulary)])
    with progress_printer() as progress:
        vocab = load_vectors(vocabulary, option="--vocabulary")
        wv = build_general_vectors(SpacyVectorTable.open(source), vocab, dim=dim, progress=progress)
        wv.save(out)
    console.print(f"wrote {out}: {describe(wv)}")
