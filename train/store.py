"""Saving and loading models: the BentoML model store and plain directories.

A saved model is a directory holding

* ``model.joblib``: the fitted :class:`train.model.TopicClassifier`;
* ``taxonomy.yaml``: the taxonomy it was trained with;
* ``gikai.json``: the manifest: topics, thresholds, config, analyzer key, hashes,
  library versions, git commit, training time, CV summary, and the SHA-256
  digest of every other file.

Loading verifies the digests *before* unpickling: a modified or truncated
model is refused, and so is one whose analyzer settings give another analyzer
key in this version than they gave at training (its stop list or analysis
changed since: :func:`check_analyzer`).  joblib files are pickles, and unpickling runs code: load
models only from your own BentoML store or from a directory you trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from .atomic import atomic_dir, atomic_write_text
from .errors import ModelError
from .signals import signals_held

MANIFEST = "gikai.json"
MODEL_FILE = "model.joblib"
TAXONOMY_FILE = "taxonomy.yaml"
FORMAT_VERSION = 1
DEFAULT_NAME = "gikai-topics"
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_model_dir(directory: Path, model: Any, manifest: dict, taxonomy_text: str) -> dict:
    """Write the model files into ``directory`` (which exists and is empty); return the manifest."""
    import joblib

    joblib.dump(model, directory / MODEL_FILE, compress=3)
    (directory / TAXONOMY_FILE).write_text(taxonomy_text, encoding="utf-8")
    manifest = dict(manifest)
    manifest["format_version"] = FORMAT_VERSION
    manifest["files"] = {name: sha256_file(directory / name) for name in (MODEL_FILE, TAXONOMY_FILE)}
    atomic_write_text(directory / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2, default=str))
    return manifest


def check_export_dir(out: Path) -> None:
    """``out`` can become a model directory: new, empty, or an earlier model (replaced whole). Checked
    before fitting, so a bad --out costs nothing and stores nothing."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ModelError(f"--out {out}: is a file; expected a folder for the model")
    if out.is_dir() and not (out / MANIFEST).is_file() and any(out.iterdir()):
        raise ModelError(f"--out {out}: exists and is not a gikai-topics model directory; choose another --out")
    from .atomic import check_writable

    check_writable(out / MANIFEST, "--out")


def check_name(name: str) -> None:
    if not _NAME_RE.match(name) or len(name) > 63:
        raise ModelError(f"model name {name!r}: expected at most 63 lower-case letters, digits, '.', '_' or '-' "
                         "(a BentoML tag name)")


def export_dir(out: Path, model: Any, manifest: dict, taxonomy_text: str) -> Path:
    """Write a model directory atomically: ``out`` appears complete or not at all."""
    out = Path(out)
    check_export_dir(out)
    with atomic_dir(out) as tmp:
        write_model_dir(tmp, model, manifest, taxonomy_text)
    return out


def save_to_bentoml(name: str, model: Any, manifest: dict, taxonomy_text: str) -> str:
    """Save into the BentoML model store; return the tag ``name:version``.

    BentoML fills a temporary folder, then copies it into the store and moves the ``latest``
    pointer; it removes a partial copy only on ``Exception``, so an interrupt (``KeyboardInterrupt``)
    during that copy would leave a half-copied version behind.  The copy therefore runs with
    SIGINT/SIGTERM held; if one arrived meanwhile, the finished version is deleted again (which
    moves ``latest`` back) before the signal is delivered: an interrupted save stores nothing."""
    import bentoml

    check_name(name)
    labels = {"project": "gikai-topics", "taxonomy": manifest["taxonomy_sha256"][:12]}
    meta = {k: manifest[k] for k in ("topics", "taxonomy_sha256", "label_set_sha256", "label_count", "git_commit",
                                     "trained_at") if k in manifest}
    creating = bentoml.models.create(name, labels=labels, metadata=meta)
    bento_model = creating.__enter__()
    try:
        write_model_dir(Path(bento_model.path), model, manifest, taxonomy_text)
        tag = str(bento_model.tag)
    except BaseException as exc:
        creating.__exit__(type(exc), exc, exc.__traceback__)
        raise
    with signals_held() as interrupted:
        creating.__exit__(None, None, None)  # the copy into the store
        if interrupted():
            bentoml.models.delete(tag)
    return tag


def remove_from_bentoml(tag: str) -> None:
    """Delete a version just saved by :func:`save_to_bentoml` (``latest`` moves back to the previous one),
    with SIGINT/SIGTERM held so that a second interrupt cannot leave it half deleted."""
    import bentoml

    with signals_held():
        bentoml.models.delete(tag)


def files_digest(manifest: dict) -> str:
    """One SHA-256 over the digests of a model's files (the manifest's ``files``): it names the model's content
    whatever its path or tag, so a model directory replaced by another model gets another digest."""
    return hashlib.sha256(json.dumps(manifest.get("files") or {}, sort_keys=True).encode()).hexdigest()


def read_manifest(directory: Path) -> dict:
    """The manifest of a model directory, checked for form (not yet against the files: see :func:`verify`)."""
    manifest_path = directory / MANIFEST
    try:
        if not manifest_path.is_file():
            raise ModelError(f"{directory}: not a gikai-topics model (no {MANIFEST})")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except OSError as exc:  # a folder or file without read permission
        raise ModelError(f"{manifest_path}: cannot read the manifest ({exc.strerror})") from None
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise ModelError(f"{manifest_path}: damaged manifest ({exc}); retrain or restore the model") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict) or not all(
            isinstance(d, str) for d in (manifest.get("files") or {}).values()):
        raise ModelError(f"{manifest_path}: damaged manifest (expected an object with a 'files' table of SHA-256 "
                         "digests); retrain or restore the model")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{directory}: model format {manifest.get('format_version')!r}, expected {FORMAT_VERSION}; "
            "retrain it with this version of gikai-topics"
        )
    return manifest


def verify(directory: Path) -> dict:
    manifest = read_manifest(directory)
    manifest_path = directory / MANIFEST
    files = manifest.get("files") or {}
    if set(files) != {MODEL_FILE, TAXONOMY_FILE}:
        raise ModelError(f"{manifest_path}: expected digests for {MODEL_FILE} and {TAXONOMY_FILE}, found {sorted(files)}")
    for name, digest in files.items():
        path = directory / name
        if not path.is_file():
            raise ModelError(f"{directory}: missing file {name}; the model is incomplete")
        try:
            actual = sha256_file(path)
        except OSError as exc:
            raise ModelError(f"{path}: cannot read the model file ({exc.strerror})") from None
        if actual != digest:
            raise ModelError(
                f"{path}: SHA-256 {actual[:16]}... does not match the manifest ({digest[:16]}...): "
                "the model was modified or truncated; refusing to load it"
            )
    check_analyzer(directory, manifest)
    return manifest


def check_analyzer(directory: Path, manifest: dict) -> None:
    """Refuse a model whose analyzer settings no longer give the analyzer key it was trained with.

    A model pickles its analyzer's settings only; the stop list and the analysis are this version's code. Where
    they changed since the model was trained (the ninth session's stop list did), the same settings give other
    tokens, and the model's weights are applied to features they were not fitted on: every score shifts without
    a word.  The key (``AnalyzerSettings.key``, which also names the token cache and the vectors' analyzer) tells.
    Models saved before the tenth session record no key and are loaded as before."""
    recorded = manifest.get("analyzer_key")
    if recorded is None:
        return
    from .errors import ConfigError
    from .text import AnalyzerSettings

    config = manifest.get("config")
    settings = config.get("analyzer") if isinstance(config, dict) else None
    if not isinstance(settings, dict):
        raise ModelError(f"{directory / MANIFEST}: damaged manifest (expected config.analyzer beside analyzer_key, "
                         f"found {settings!r:.60}); retrain or restore the model")
    try:
        current = AnalyzerSettings(**settings).key
    except TypeError:  # settings this version does not know
        raise ModelError(f"{directory}: expected analyzer settings this version of gikai-topics knows, found "
                         f"{settings!r}; load it with the version that trained it (git commit "
                         f"{manifest.get('git_commit')}) or retrain it") from None
    except ConfigError as exc:  # e.g. its dictionary package is not installed here
        raise ModelError(f"{directory}: cannot analyse text as the model was trained to ({exc}); install what its "
                         "analyzer settings need, or retrain it") from None
    if current != recorded:
        raise ModelError(
            f"{directory}: expected the analyzer key the model was trained with ({recorded}), found {current} for "
            "the same settings in this version of gikai-topics: its stop list or analysis changed since, so the "
            "model's weights would meet other features and every score would shift; retrain the model with this "
            f"version, or load it with the version that trained it (git commit {manifest.get('git_commit')})")


def resolve(ref: str | os.PathLike | None) -> tuple[Path, str]:
    """Find a model: an existing directory path, or a BentoML tag ``name[:version]``."""
    ref = ref or f"{DEFAULT_NAME}:latest"
    path = Path(ref)
    if path.is_dir():
        return path, str(path)
    if path.exists():  # a file: perhaps the model.joblib inside a model folder
        raise ModelError(f"{ref}: expected a model directory (the folder `train --out` writes, with gikai.json "
                         f"in it) or a BentoML tag NAME[:VERSION], found a file; pass the folder that holds it")
    if os.sep in str(ref) or str(ref).startswith("."):
        raise ModelError(f"{ref}: no such model directory")
    import bentoml
    import yaml
    from bentoml.exceptions import BentoMLException, NotFound

    tag = str(ref) if ":" in str(ref) else f"{ref}:latest"
    try:
        bento_model = bentoml.models.get(tag)
    except NotFound:
        raise ModelError(
            f"model {tag!r} not found in the BentoML store ({os.environ.get('BENTOML_HOME', '~/bentoml')}); "
            "run `gikai-topics train` first or pass --model DIR"
        ) from None
    except (BentoMLException, ValueError, yaml.YAMLError) as exc:  # a damaged model.yaml in the store, too
        raise ModelError(f"model {ref!r}: {exc}") from None
    return Path(bento_model.path), str(bento_model.tag)


def load(ref: str | os.PathLike | None) -> tuple[Any, dict, str, Path]:
    """Load (model, manifest, tag, directory) after verifying the digests."""
    import joblib

    directory, tag = resolve(ref)
    manifest = verify(directory)
    try:
        model = joblib.load(directory / MODEL_FILE)
    except Exception as exc:  # digests matched, so this is a version mismatch
        raise ModelError(f"{directory}: cannot load the model ({type(exc).__name__}: {exc})"
                         f"{_versions_note(manifest) or '; retrain it'}") from None
    return model, manifest, tag, directory


def _versions_note(manifest: dict) -> str:
    """The recorded library versions that differ from the installed ones (``gikai.json`` has them), as a clause
    for the error of a model that cannot be unpickled: what it was saved with and what is here."""
    recorded = manifest.get("libraries")
    if not isinstance(recorded, dict):
        return ""
    from .versions import library_versions

    here = library_versions()
    differ = [f"{name} {recorded[name]} (installed: {here[name]})" for name in here
              if isinstance(recorded.get(name), str) and recorded[name] != here[name]]
    return f"; it was saved with {', '.join(differ)}: install those versions to load it, or retrain it" if differ else ""


def copy_dir(src: Path, dst: Path) -> None:
    with atomic_dir(dst) as tmp:
        for item in src.iterdir():
            if item.is_file():
                shutil.copy2(item, tmp / item.name)
