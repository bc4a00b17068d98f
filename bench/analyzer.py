"""Section 1: analyzer throughput, our JapaneseAnalyzer vs raw SudachiPy, same text, same process.

Raw SudachiPy is ``Dictionary(dict="core").tokenizer(mode=SplitMode.C)`` taking
``m.normalized_form()`` of every morpheme.  Both sides get the same pieces of
text: real utterances from the seeds corpus, pre-split with
``train.sudachi_input.split_for_sudachi`` (Sudachi refuses inputs over 49,149 bytes, so
raw SudachiPy could not take the longest utterances whole; our analyzer finds
the pieces already short and does not split them again).  The two are run
alternately for several rounds after a warm-up; the median round counts.
"""

from __future__ import annotations

import statistics
import time

from .common import Context, fmt_num, say, run_child

FULL_BYTES = 2_000_000
QUICK_BYTES = 500_000


def measure(corpus_file: str, target_bytes: int, rounds: int) -> dict:
    """Runs in a child process."""
    import json

    from sudachipy import Dictionary, SplitMode

    from train.sudachi_input import split_for_sudachi
    from train.text import JapaneseAnalyzer

    pieces: list[str] = []
    n_bytes = n_utts = 0
    with open(corpus_file, encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            n_utts += 1
            for p in split_for_sudachi(text):
                if p.strip():
                    pieces.append(p)
                    n_bytes += len(p.encode("utf-8"))
            if n_bytes >= target_bytes:
                break
    n_chars = sum(len(p) for p in pieces)

    ours = JapaneseAnalyzer()
    raw_tok = Dictionary(dict="core").tokenizer(mode=SplitMode.C)

    def run_ours() -> int:
        n = 0
        for p in pieces:
            n += len(ours(p))
        return n

    def run_raw() -> int:
        n = 0
        for p in pieces:
            n += len([m.normalized_form() for m in raw_tok.tokenize(p)])
        return n

    for p in pieces[:50]:  # warm-up: dictionaries loaded, POS tables built, caches warm
        ours(p)
        [m.normalized_form() for m in raw_tok.tokenize(p)]
    ours_t, raw_t = [], []
    ours_tokens = raw_tokens = 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        ours_tokens = run_ours()
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        raw_tokens = run_raw()
        raw_t.append(time.perf_counter() - t0)
    ours_s, raw_s = statistics.median(ours_t), statistics.median(raw_t)
    return {"utterances": n_utts, "pieces": len(pieces), "bytes": n_bytes, "chars": n_chars, "rounds": rounds,
            "ours_seconds": ours_t, "raw_seconds": raw_t,
            "ours_chars_per_s": n_chars / ours_s, "raw_chars_per_s": n_chars / raw_s,
            "ratio": raw_s / ours_s, "ours_tokens": ours_tokens, "raw_morphemes": raw_tokens}


def run(ctx: Context) -> dict:
    target = QUICK_BYTES if ctx.quick else FULL_BYTES
    rounds = 1 if ctx.quick else 3
    say(f"analyzer: {target / 1e6:.1f} MB of corpus text, {rounds} round(s)")
    out = run_child("bench.analyzer:measure", {"corpus_file": str(ctx.corpus_file()), "target_bytes": target,
                                               "rounds": rounds}, timeout=900)
    r = out["result"]
    size = f"{r['bytes'] / 1e6:.2f} MB UTF-8 ({r['chars']:,} chars, {r['utterances']:,} utterances)"
    rows = [
        {"name": "JapaneseAnalyzer", "value": f"{fmt_num(r['ours_chars_per_s'])} chars/s",
         "detail": f"{size}; median of {r['rounds']} round(s); {r['ours_tokens']:,} content tokens kept"},
        {"name": "raw SudachiPy (mode C, normalized_form)", "value": f"{fmt_num(r['raw_chars_per_s'])} chars/s",
         "detail": f"same text, same process; {r['raw_morphemes']:,} morphemes"},
        {"name": "ratio ours / raw", "value": f"{r['ratio']:.2f}x", "detail": ""},
    ]
    notes = []
    if ctx.quick:
        notes.append(f"Quick run: {r['bytes'] / 1e6:.2f} MB of text instead of the full run's "
                     f"{FULL_BYTES / 1e6:.0f} MB, one round.")
    targets = [{"name": "analyzer throughput vs raw SudachiPy", "target": ">= 0.9x", "value": f"{r['ratio']:.2f}x",
                "met": r["ratio"] >= 0.9,
                "why": "" if r["ratio"] >= 0.9 else
                "our analyzer does per-morpheme POS filtering and stop-word checks in Python on top of Sudachi"}]
    return {"title": "Analyzer throughput", "rows": rows, "targets": targets, "notes": notes, "data": r}
