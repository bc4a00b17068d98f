"""The files ``gikai-topics tag-corpus`` writes (see :mod:`train.tagging`): a part file for each chunk (written by
a worker), the parts folder ``<out>.parts/`` that makes a run resumable (prepared, or refused when an earlier run
with other inputs left it), and the output joined from the parts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .atomic import atomic_open, atomic_write_text
from .corpus import RECORD_FIELDS
from .errors import InputError


def _schema(topic_ids: list[str]):
    import pyarrow as pa

    fields = [pa.field(k, pa.string()) for k in RECORD_FIELDS]
    fields.append(pa.field("topics", pa.list_(pa.string())))
    fields += [pa.field(f"score_{t}", pa.float32()) for t in topic_ids]
    return pa.schema(fields)


def write_part(rows: list[dict], path: Path, fmt: str, topic_ids: list[str]) -> None:
    if fmt == "jsonl":
        with atomic_open(path) as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=_schema(topic_ids))
    with atomic_open(path, "wb") as fh:
        pq.write_table(table, fh)


def holds_no_parts(parts: Path) -> bool:
    """Only what a run writes before its first part (the manifest, temporary files): nothing to resume."""
    return all(p.name == "manifest.json" or (p.name.startswith(".") and p.name.endswith(".tmp"))
               for p in parts.iterdir())


def prepare_parts(parts: Path, manifest: dict, restart: bool) -> None:
    mpath = parts / "manifest.json"
    if parts.exists() and not parts.is_dir():
        raise InputError(f"{parts}: is a file, where tag-corpus keeps its unfinished parts; expected a folder or "
                         "nothing there: move the file or choose another --out")
    if parts.exists() and (restart or holds_no_parts(parts)):
        shutil.rmtree(parts)
    if parts.exists():
        try:
            old = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = None
        if not old or old.get("key") != manifest["key"]:
            old = old if isinstance(old, dict) else {}
            what = {"files": "other inputs", "model": "another model", "model_files": "another model",
                    "chunk_size": f"another --chunk-size ({old.get('chunk_size')!r}; now {manifest['chunk_size']})"}
            differ = list(dict.fromkeys(v for k, v in what.items() if k in old and old[k] != manifest[k]))
            raise InputError(
                f"{parts}: unfinished parts from a run with {' and '.join(differ) or 'other inputs or another model'}; "
                "re-run with --restart to discard them"
            )
        return
    parts.mkdir(parents=True)
    atomic_write_text(mpath, json.dumps(manifest, ensure_ascii=False, indent=1))


def join_parts(parts: Path, n_chunks: int, out: Path, fmt: str, model_tag: str, model_files: dict) -> None:
    paths = [parts / f"part-{i:06d}.{fmt}" for i in range(n_chunks)]
    if fmt == "jsonl":
        with atomic_open(out) as fh:
            for p in paths:
                with open(p, encoding="utf-8") as part:
                    shutil.copyfileobj(part, fh)
        return
    import pyarrow.parquet as pq

    schema = pq.read_schema(paths[0]) if paths else None
    with atomic_open(out, "wb") as fh:
        if schema is None:
            return
        meta = dict(schema.metadata or {})
        meta[b"gikai_topics_model"] = model_tag.encode()
        meta[b"gikai_topics_model_files"] = json.dumps(model_files, sort_keys=True).encode()  # as in its gikai.json
        writer = pq.ParquetWriter(fh, schema.with_metadata(meta))
        for p in paths:
            writer.write_table(pq.read_table(p).replace_schema_metadata(meta))
        writer.close()


def kept(parts: Path, fmt: str) -> str:
    """What an unfinished run leaves for a resume, for its message."""
    done = len(list(parts.glob(f"part-*.{fmt}"))) if parts.is_dir() else 0
    return f"{done} finished part(s) are kept in {parts}"


def output_format(out: Path) -> str:
    name = out.name.lower()
    if name.endswith(".jsonl"):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    raise InputError(f"--out {out}: expected a .parquet or .jsonl file name")
