"""Tagging whole corpora: streaming, parallel (local processes or Dask), resumable.

The input is read as a stream and cut into fixed-size chunks in reading order.
Each chunk is tagged by a worker that loads the model once, and written as a
part file under ``<out>.parts/``.  When every chunk is done the parts are
joined into ``out`` (written under a temporary name, then renamed) and the
parts folder is removed.  Re-running after an interruption reuses the parts
already written, so it produces the same file without redoing their work.
Memory stays flat: at most ``2 x workers`` chunks are in flight.  The part
files, the parts folder and the joined output are :mod:`train.tag_files`'s.
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

from .atomic import check_writable
from .corpus import RECORD_FIELDS, ReadStats, Record, expand_paths, read_corpus
from .errors import InputError, Interrupted, ModelError
from .store import files_digest, read_manifest, resolve
from .tag_files import holds_no_parts, join_parts, kept, output_format, prepare_parts, write_part

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
        write_part(out_rows, Path(part_path), fmt, topic_ids)
    except OSError as exc:  # a full disk, say: one line from the driver (a worker's OSError was a traceback there)
        raise InputError(f"{part_path}: cannot write this part ({exc.strerror or exc}); the finished parts are kept: "
                         "make room and run the same command again to resume") from None
    return len(rows)


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
        prepare_parts(parts, manifest, restart)
    except BaseException as exc:
        pool.close(cancel=True)
        if isinstance(exc, OSError):  # a full disk, say: nothing tagged yet, so nothing to keep
            if parts.is_dir() and holds_no_parts(parts):
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
        if not submitted and parts.is_dir() and holds_no_parts(parts):
            shutil.rmtree(parts, ignore_errors=True)
        if isinstance(exc, KeyboardInterrupt) and parts.is_dir() and not holds_no_parts(parts):
            # the CLI's generic "nothing was written" would hide the finished parts a resume reuses
            raise Interrupted(f"interrupted; {out} was not written, but {kept(parts, fmt)}: run the same command "
                              "again to resume (or add --restart to start over)") from None
        if isinstance(exc, BrokenProcessPool):  # a worker killed (out of memory, most often): a traceback said so
            raise InputError(f"--jobs {jobs}: a worker process was killed (most likely for want of memory: each worker "
                             f"loads the model); {out} was not written, but {kept(parts, fmt)}: run the same command "
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
        join_parts(parts, stats.chunks, out, fmt, model_tag, tagger.manifest["files"])
    except KeyboardInterrupt:  # every part is done and kept: the CLI's "nothing was written" would hide them
        raise Interrupted(f"interrupted while writing {out}, which was not written; {kept(parts, fmt)}: run the same "
                          "command again to write it from them") from None
    except OSError as exc:  # a full disk, say (atomic_open has removed its temporary file)
        raise InputError(f"--out {out}: cannot write it ({exc.strerror or exc}); {kept(parts, fmt)}: make room and "
                         "run the same command again to write it from them") from None
    shutil.rmtree(parts, ignore_errors=True)
    stats.bad_records = len(read.bad_lines)
    stats.bad_examples = read.bad_lines[:5]
    stats.seconds = time.perf_counter() - started
    return stats
