"""Section 6: tagging a whole corpus end to end.

``train.tagging.tag_corpus(inputs, <tmp>/out.parquet, model=<labels model dir>, jobs=2)``
in a fresh process: reading, chunking, 2 worker processes (each loads and
verifies the model), Parquet parts, the final join.  Full run: the whole
``seeds/`` corpus; quick run: the first 10,000 utterances of the seeded random
order, written to a temporary ``.jsonl.gz`` file.  The output's row count is
checked against the records tagged.
"""

from __future__ import annotations

from .common import ROOT, Context, fmt_num, fmt_s, read_corpus_rows, run_child, say, write_jsonl_gz

QUICK_N = 10_000


def tag_job(inputs: list[str], out: str, model: str, jobs: int) -> dict:
    import os

    import pyarrow.parquet as pq

    from train.tagging import tag_corpus

    stats = tag_corpus(inputs, out, model=model, jobs=jobs)
    rows = pq.ParquetFile(out).metadata.num_rows
    return {"records": stats.records, "seconds": stats.seconds, "per_second": stats.per_second,
            "chunks": stats.chunks, "bad_records": stats.bad_records, "rows_in_output": rows,
            "output_mb": os.path.getsize(out) / 2**20}


def run(ctx: Context) -> dict:
    model = ctx.labels_model()
    if ctx.quick:
        rows = read_corpus_rows(ctx.corpus_file(), QUICK_N)
        inputs = [str(write_jsonl_gz(rows, ctx.path("data", "corpus-10k.jsonl.gz")))]
        what = f"{QUICK_N:,}-utterance subset"
    else:
        inputs = [str(ROOT / "seeds")]
        what = "seeds/ (whole corpus)"
    say(f"corpus: tag_corpus over {what}, jobs=2")
    res = run_child("bench.corpus:tag_job", {"inputs": inputs, "out": str(ctx.path("tagged", "out.parquet")),
                                             "model": model["dir"], "jobs": 2},
                    timeout=3600, log=ctx.path("logs", "corpus.log"))
    r = res["result"]
    rows_ = [{"name": f"tag_corpus, {what}, jobs=2", "value": f"{fmt_num(r['per_second'])} utterances/s",
              "detail": f"{r['records']:,} utterances in {fmt_s(r['seconds'])} wall; {r['chunks']} chunks; "
                        f"{r['rows_in_output']:,} rows in the Parquet output ({r['output_mb']:.1f} MB); "
                        f"{r['bad_records']} bad records"}]
    notes = [f"Model: {model['tag']} ({model['kind']})."]
    if ctx.quick:
        notes.append(f"Quick run: a {QUICK_N:,}-utterance subset; the full run tags all of seeds/.")
    if r["rows_in_output"] != r["records"]:
        notes.append(f"MISMATCH: {r['records']:,} records tagged but {r['rows_in_output']:,} rows written.")
    return {"title": "Corpus tagging", "rows": rows_, "targets": [], "notes": notes, "data": r}
