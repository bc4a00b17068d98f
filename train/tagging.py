"""Tagging whole corpora: streaming, parallel (local processes or Dask), resumable.

The input is read as a stream and cut into fixed-size chunks in reading order.
Each chunk is tagged by a worker that loads the model once, and written as a
part file under ``<out>.parts/``.  When every chunk is done the parts are
joined into ``out`` (written under a temporary name, then renamed) and the
parts folder is removed.  Re-running after an interruption reuses the parts
already written, so it produces the same file without redoing their work.
Memory stays flat: at most ``2 x workers`` chunks are in flight.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from .atomic import atomic_open, atomic_write_text, check_writable
from .corpus import RECORD_FIELDS, ReadStats, Record, expand_paths, read_corpus
from .errors import InputError, Interrupted, ModelError
from .store import files_digest, read_manifest, resolve

FORMAT = 1


@dataclasses.dataclass
class TagStats:
    records: int = 0
    chunks: int = 0
    chunks_reused: int = 0
    bad_records: int = 0
    bad_examples: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    model: str = ""
    out: str = ""

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


# --------------------------------------------------------------------------- worker side

_WORKER_TAGGER = None
_WORKER_MODEL_DIR = None


def _worker_tagger(model_dir: str, model_files: str | None = None):
    """The model, loaded once per worker process (and verified).

    ``model_files``: the :func:`~train.store.files_digest` of the model the run was fingerprinted with (default:
    the one in ``model_dir`` now).  A model cached for the same folder but with other files (the folder was
    replaced by another model) is loaded again, and one that still differs is refused: a part is never tagged
    by another model than the one its run's fingerprint names."""
    global _WORKER_TAGGER, _WORKER_MODEL_DIR
    want = model_files or files_digest(read_manifest(Path(model_dir)))
    tagger = _WORKER_TAGGER if _WORKER_MODEL_DIR == model_dir else None
    if tagger is None or files_digest(tagger.manifest) != want:
        from .inference import load_model

        tagger = load_model(model_dir)
        _WORKER_TAGGER, _WORKER_MODEL_DIR = tagger, model_dir
    if files_digest(tagger.manifest) != want:
        raise ModelError(f"{model_dir}: the model was replaced while tagging (its files' digest is "
                         f"{files_digest(tagger.manifest)[:12]}, the run started with {want[:12]}); run tag-corpus "
                         "again with --restart to tag everything with one model")
    return tagger


def tag_chunk(model_dir: str, rows: list[dict], part_path: str, fmt: str, model_files: str | None = None) -> int:
    """Tag one chunk and write its part file atomically; returns the number of rows."""
    from .inference import shown_scores

    tagger = _worker_tagger(model_dir, model_files)
    scores = tagger.scores([r["text"] for r in rows]) if rows else None
    topic_ids = tagger.topic_ids
    thresholds = tagger.model.thresholds
    shown = shown_scores(scores, thresholds, 5, np.float32 if fmt == "parquet" else np.float64) if rows else None
    out_rows = []
    for i, r in enumerate(rows):
        row = {k: r.get(k) for k in RECORD_FIELDS}
        row["topics"] = [t for j, t in enumerate(topic_ids) if scores[i, j] >= thresholds[j]]
        for j, t in enumerate(topic_ids):
            row[f"score_{t}"] = float(shown[i, j])  # on the topic's side of its threshold, as stored
        out_rows.append(row)
    try:
        _write_part(out_rows, Path(part_path), fmt, topic_ids)
    except OSError as exc:  # a full disk, say: one line from the driver (a worker's OSError was a traceback there)
        raise InputError(f"{part_path}: cannot write this part ({exc.strerror or exc}); the finished parts are kept: "
                         "make room and run the same command again to resume") from None
    return len(rows)


def _schema(topic_ids: list[str]):
    import pyarrow as pa

    fields = [pa.field(k, pa.string()) for k in RECORD_FIELDS]
    fields.append(pa.field("topics", pa.list_(pa.string())))
    fields += [pa.field(f"score_{t}", pa.float32()) for t in topic_ids]
    return pa.schema(fields)


def _write_part(rows: list[dict], path: Path, fmt: str, topic_ids: list[str]) -> None:
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


# --------------------------------------------------------------------------- driver side

def _chunks(records: Iterable[Record], size: int) -> Iterator[list[dict]]:
    buf: list[dict] = []
    for rec in records:
        buf.append(rec.to_dict())
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def _fingerprint(inputs: list[Path], model_tag: str, model_files: str, chunk_size: int) -> dict:
    """What a run's parts depend on: the input files, the model (its tag or folder, and its files' digest: a
    folder holding another model is another model), the chunk size."""
    files = []
    for p in expand_paths(inputs):
        st = p.stat()
        files.append([str(p.resolve()), st.st_size, int(st.st_mtime)])
    blob = json.dumps([files, model_tag, model_files, chunk_size], sort_keys=True)
    return {"format": FORMAT, "files": files, "model": model_tag, "model_files": model_files,
            "chunk_size": chunk_size, "key": hashlib.sha256(blob.encode()).hexdigest()}


def _holds_no_parts(parts: Path) -> bool:
    """Only what a run writes before its first part (the manifest, temporary files): nothing to resume."""
    return all(p.name == "manifest.json" or (p.name.startswith(".") and p.name.endswith(".tmp"))
               for p in parts.iterdir())


def _prepare_parts(parts: Path, manifest: dict, restart: bool) -> None:
    mpath = parts / "manifest.json"
    if parts.exists() and not parts.is_dir():
        raise InputError(f"{parts}: is a file, where tag-corpus keeps its unfinished parts; expected a folder or "
                         "nothing there: move the file or choose another --out")
    if parts.exists() and (restart or _holds_no_parts(parts)):
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


def _join_parts(parts: Path, n_chunks: int, out: Path, fmt: str, model_tag: str, model_files: dict) -> None:
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


def _kept(parts: Path, fmt: str) -> str:
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


class _LocalPool:
    def __init__(self, jobs: int) -> None:
        self.pool = ProcessPoolExecutor(max_workers=jobs)
        self.slots = 2 * jobs

    def submit(self, *args):
        return self.pool.submit(tag_chunk, *args)

    @staticmethod
    def wait_some(futures):
        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        return done

    def close(self, cancel: bool = False):
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class _DaskPool:
    def __init__(self, address: str, jobs: int) -> None:
        from .cluster import connect

        self.client, self.cluster = connect(address, jobs)
        self.slots = 2 * max(1, len(self.client.scheduler_info()["workers"]))

    def submit(self, *args):
        return self.client.submit(tag_chunk, *args, pure=False)

    @staticmethod
    def wait_some(futures):
        from dask.distributed import wait as dwait

        return dwait(list(futures), return_when="FIRST_COMPLETED").done

    def close(self, cancel: bool = False):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def tag_corpus(
    inputs: list[Path],
    out: Path,
    *,
    model: str | None = None,
    jobs: int | None = None,
    dask: str | None = None,
    chunk_size: int = 2000,
    restart: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> TagStats:
    """Tag every utterance of ``inputs`` into ``out`` (.parquet or .jsonl)."""
    started = time.perf_counter()
    out = Path(out)
    fmt = output_format(out)
    if chunk_size < 1:
        raise InputError(f"--chunk-size must be >= 1, found {chunk_size}")
    if dask and dask != "local" and jobs is not None:  # as evaluate: a cluster's own workers run the chunks
        raise InputError(f"--jobs {jobs}: expected no --jobs with --dask {dask}, whose workers do the tagging (start "
                         "more with `dask worker ADDRESS --nworkers N`); drop --jobs, or use --dask local --jobs N")
    if jobs is None or jobs == -1:  # -1: one per core, as train and evaluate take it
        jobs = os.cpu_count() or 1
    if not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"--jobs: expected an integer >= 1, found {jobs!r}")
    parts = out.with_name(out.name + ".parts")
    check_writable(out, "--out", inputs=inputs, scratch=[parts])
    model_dir, model_tag = resolve(model)
    tagger = _worker_tagger(str(model_dir))  # verify the model here, before any work starts
    model_files = files_digest(tagger.manifest)
    manifest = _fingerprint(list(inputs), model_tag, model_files, chunk_size)
    pool = _DaskPool(dask, jobs) if dask else _LocalPool(jobs)  # a cluster that can't be reached fails here
    try:
        _prepare_parts(parts, manifest, restart)
    except BaseException as exc:
        pool.close(cancel=True)
        if isinstance(exc, OSError):  # a full disk, say: nothing tagged yet, so nothing to keep
            if parts.is_dir() and _holds_no_parts(parts):
                shutil.rmtree(parts, ignore_errors=True)
            raise InputError(f"--out {out}: cannot make its parts folder {parts} ({exc.strerror or exc}); nothing was "
                             "written") from None
        raise

    read = ReadStats()
    stats = TagStats(model=model_tag, out=str(out))
    pending: dict = {}
    submitted = False
    try:
        # every record is tagged, repeated texts too: each row of the output is one record of the input
        records = read_corpus(inputs, lenient=True, dedupe=False, stats=read)
        for index, rows in enumerate(_chunks(records, chunk_size)):
            stats.chunks += 1
            part = parts / f"part-{index:06d}.{fmt}"
            if part.exists():
                stats.chunks_reused += 1
                stats.records += len(rows)
                if progress:
                    progress(stats.records, read.records)
                continue
            while len(pending) >= pool.slots:
                for fut in pool.wait_some(pending):
                    stats.records += fut.result()
                    del pending[fut]
                    if progress:
                        progress(stats.records, read.records)
            pending[pool.submit(str(model_dir), rows, str(part), fmt, model_files)] = index
            submitted = True
        while pending:
            for fut in pool.wait_some(pending):
                stats.records += fut.result()
                del pending[fut]
                if progress:
                    progress(stats.records, read.records)
    except BaseException as exc:
        pool.close(cancel=True)
        # failed before any work (an unreadable input, say): nothing to resume, so no --restart after a fix
        if not submitted and parts.is_dir() and _holds_no_parts(parts):
            shutil.rmtree(parts, ignore_errors=True)
        if isinstance(exc, KeyboardInterrupt) and parts.is_dir() and not _holds_no_parts(parts):
            # the CLI's generic "nothing was written" would hide the finished parts a resume reuses
            raise Interrupted(f"interrupted; {out} was not written, but {_kept(parts, fmt)}: run the same command "
                              "again to resume (or add --restart to start over)") from None
        if isinstance(exc, BrokenProcessPool):  # a worker killed (out of memory, most often): a traceback said so
            raise InputError(f"--jobs {jobs}: a worker process was killed (most likely for want of memory: each worker "
                             f"loads the model); {out} was not written, but {_kept(parts, fmt)}: run the same command "
                             "again to resume, with fewer --jobs if memory is short") from None
        raise
    pool.close()
    if stats.chunks == 0:  # nothing readable: an error, not an empty output file
        shutil.rmtree(parts, ignore_errors=True)
        bad = read.bad_lines
        raise InputError("no readable utterances in " + ", ".join(map(str, inputs))
                         + (f": {len(bad)} bad record(s), e.g. {bad[0]}" if bad else "")
                         + "; nothing was written")
    try:
        _join_parts(parts, stats.chunks, out, fmt, model_tag, tagger.manifest["files"])
    except KeyboardInterrupt:  # every part is done and kept: the CLI's "nothing was written" would hide them
        raise Interrupted(f"interrupted while writing {out}, which was not written; {_kept(parts, fmt)}: run the same "
                          "command again to write it from them") from None
    except OSError as exc:  # a full disk, say (atomic_open has removed its temporary file)
        raise InputError(f"--out {out}: cannot write it ({exc.strerror or exc}); {_kept(parts, fmt)}: make room and "
                         "run the same command again to write it from them") from None
    shutil.rmtree(parts, ignore_errors=True)
    stats.bad_records = len(read.bad_lines)
    stats.bad_examples = read.bad_lines[:5]
    stats.seconds = time.perf_counter() - started
    return stats
