"""Section 4: serving over HTTP, real servers on 127.0.0.1.

Servers (each started on a free port, stopped by process group in a ``finally``):

* ``bentoml serve serve.service:TopicTagger`` with the service defaults
  (1 worker process, 4 threads), model = the one trained on the labels, by tag
  from the bench's private BentoML store;
* full run only: the same with ``GIKAI_TOPICS_WORKERS=2``;
* ``uvicorn bench.fastapi_app:app``: a minimal FastAPI app around the same
  model directory (1 process, thread pool of 4).

Load (httpx sync clients, one per thread, keep-alive) with real corpus
utterances (seeded random sample, at most 20,000 characters each, cycled in
the same order everywhere):

1. ``/tag``, 1 client: latency p50/p95/p99 and texts/s;
2. ``/tag``, 16 concurrent clients, one text per request: texts/s;
3. ``/tag_batch``, 1 client, 32 texts per request: texts/s;
4. ``/tag_batch``, 1 client, 256 texts per request: texts/s.

Each phase stops at its time limit or request limit, whichever comes first
(full: 15 s / 20,000 requests; quick: 3 s / 1,000).  The server's process
tree (psutil) is sampled every 0.2 s for peak RSS and its CPU time per phase
is recorded beside the client's: client and server share the same 2 cores.

In-process reference: ``Tagger.tag`` of the same model in a fresh process, on
the same texts in the same order: one text per call (latency percentiles) and
batches of 32 and 256.
"""

from __future__ import annotations

import itertools
import json
import time

from .common import PYTHON, Context, fmt_num, percentile, read_corpus_rows, run_child, say
from .http_load import Server, load

N_TEXTS = 5000
MAX_CHARS = 20000
CONCURRENT = 16
BATCHES = (32, 256)


def _limits(quick: bool) -> tuple[float, int]:
    return (3.0, 1000) if quick else (15.0, 20000)


# ------------------------------------------------------------------ in-process reference (child)

def inprocess_job(model_dir: str, texts_file: str, seconds: float, max_requests: int) -> dict:
    from train.inference import load_model

    texts = json.loads(open(texts_file, encoding="utf-8").read())
    tagger = load_model(model_dir)
    for t in texts[:20]:
        tagger.tag([t])
    tagger.tag(texts[:256])
    out = {}
    lat = []
    t_end = time.perf_counter() + seconds
    i = 0
    t0 = time.perf_counter()
    while time.perf_counter() < t_end and i < max_requests:
        s = time.perf_counter()
        tagger.tag([texts[i % len(texts)]])
        lat.append(time.perf_counter() - s)
        i += 1
    el = time.perf_counter() - t0
    out["single"] = {"texts": i, "seconds": el, "texts_per_s": i / el, "p50_ms": percentile(lat, 50) * 1e3,
                     "p95_ms": percentile(lat, 95) * 1e3, "p99_ms": percentile(lat, 99) * 1e3}
    # the service's 4 threads in one process: do they add throughput? (only if the work releases the GIL)
    from concurrent.futures import ThreadPoolExecutor

    counter = itertools.count()
    t_end = time.perf_counter() + seconds

    def loop() -> int:
        done = 0
        while time.perf_counter() < t_end:
            j = next(counter)
            if j >= max_requests:
                break
            tagger.tag([texts[j % len(texts)]])
            done += 1
        return done

    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        n = sum(pool.map(lambda _: loop(), range(4)))
    el = time.perf_counter() - t0
    out["single_4threads"] = {"texts": n, "seconds": el, "texts_per_s": n / el}
    for b in BATCHES:
        n = 0
        k = 0
        t_end = time.perf_counter() + seconds
        t0 = time.perf_counter()
        while time.perf_counter() < t_end and k < max_requests:
            start = (k * b) % len(texts)
            batch = (texts + texts)[start:start + b]
            tagger.tag(batch)
            n += len(batch)
            k += 1
        el = time.perf_counter() - t0
        out[f"batch{b}"] = {"texts": n, "requests": k, "seconds": el, "texts_per_s": n / el}
    return out


def _cpu_per_req(phase: dict) -> float:
    return 1000 * phase["server_cpu_s"] / max(1, phase["requests"])


def _single_bodies(texts):
    for t in itertools.cycle(texts):
        yield {"text": t}, 1


def _batch_bodies(texts, b):
    for k in itertools.count():
        start = (k * b) % len(texts)
        batch = (texts + texts)[start:start + b]
        yield {"texts": batch}, len(batch)


def _bench_server(server: Server, texts: list[str], seconds: float, max_requests: int) -> dict:
    import httpx

    say(f"serving: starting {server.name}")
    startup = server.start()
    # warm-up (not measured): every thread's tokenizer built, code paths hot
    with httpx.Client(base_url=server.base, timeout=120) as c:
        for t in texts[:20]:
            assert c.post("/tag", json={"text": t}).status_code == 200
        assert c.post("/tag_batch", json={"texts": texts[:256]}).status_code == 200
    load(server.base, "/tag", _single_bodies(texts), CONCURRENT, 1.0, 200, server)
    out = {"startup_s": startup}
    say(f"serving: {server.name}: /tag, 1 client")
    out["single"] = load(server.base, "/tag", _single_bodies(texts), 1, seconds, max_requests, server)
    say(f"serving: {server.name}: /tag, {CONCURRENT} clients")
    out["concurrent"] = load(server.base, "/tag", _single_bodies(texts), CONCURRENT, seconds, max_requests, server)
    for b in BATCHES:
        say(f"serving: {server.name}: /tag_batch {b}, 1 client")
        out[f"batch{b}"] = load(server.base, "/tag_batch", _batch_bodies(texts, b), 1, seconds, max_requests, server)
    out["peak_rss_mb"] = server.peak_rss_mb
    return out


def run(ctx: Context) -> dict:
    seconds, max_requests = _limits(ctx.quick)
    model = ctx.labels_model()
    rows_ = read_corpus_rows(ctx.corpus_file(), N_TEXTS, max_chars=MAX_CHARS, where=lambda r: bool(r["text"].strip()))
    texts = [r["text"] for r in rows_]
    texts_file = ctx.path("data", "serve-texts.json")
    texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    mean_chars = sum(map(len, texts)) / len(texts)
    median_chars = sorted(map(len, texts))[len(texts) // 2]

    say("serving: in-process Tagger.tag reference")
    inproc = run_child("bench.serving:inprocess_job", {"model_dir": model["dir"], "texts_file": str(texts_file),
                                                        "seconds": seconds, "max_requests": max_requests},
                       timeout=600)["result"]

    base_env = {"GIKAI_TOPICS_THREADS": "4", "BENTOML_DO_NOT_TRACK": "true"}
    bento_cmd = [PYTHON, "-m", "bentoml", "serve", "serve.service:TopicTagger"]
    specs = [("bentoml", bento_cmd, {**base_env, "GIKAI_TOPICS_MODEL": model["tag"], "GIKAI_TOPICS_WORKERS": "1"})]
    if not ctx.quick:
        specs.append(("bentoml, 2 workers", bento_cmd,
                      {**base_env, "GIKAI_TOPICS_MODEL": model["tag"], "GIKAI_TOPICS_WORKERS": "2"}))
    specs.append(("fastapi+uvicorn", [PYTHON, "-m", "uvicorn", "bench.fastapi_app:app", "--workers", "1"],
                  {**base_env, "GIKAI_TOPICS_MODEL": model["dir"]}))
    servers: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for name, cmd, env in specs:
        server = Server(name, cmd, env, ctx.path("logs", f"server-{name.replace(' ', '_').replace(',', '')}.log"))
        try:
            servers[name] = _bench_server(server, texts, seconds, max_requests)
        except Exception as exc:  # report and go on with the next server
            errors[name] = f"{type(exc).__name__}: {exc}"[:500]
            say(f"serving: {name} failed: {errors[name]}")
        finally:
            server.stop()

    rows = [{"name": "in-process Tagger.tag, 1 text per call",
             "value": f"{fmt_num(inproc['single']['texts_per_s'])} texts/s",
             "detail": f"p50 {inproc['single']['p50_ms']:.1f} ms, p95 {inproc['single']['p95_ms']:.1f} ms, "
                       f"p99 {inproc['single']['p99_ms']:.1f} ms"}]
    rows.append({"name": "in-process, 1 text per call, 4 threads",
                 "value": f"{fmt_num(inproc['single_4threads']['texts_per_s'])} texts/s",
                 "detail": "one process, 4 threads (the service's thread count) calling concurrently"})
    for b in BATCHES:
        rows.append({"name": f"in-process Tagger.tag, batches of {b}",
                     "value": f"{fmt_num(inproc[f'batch{b}']['texts_per_s'])} texts/s", "detail": ""})
    for name, s in servers.items():
        one, conc = s["single"], s["concurrent"]
        rows.append({"name": f"{name}: /tag 1 client latency", "value":
                     f"p50 {one['p50_ms']:.1f} / p95 {one['p95_ms']:.1f} / p99 {one['p99_ms']:.1f} ms",
                     "detail": f"{fmt_num(one['texts_per_s'])} texts/s; {one['requests']:,} requests; "
                               f"{one['errors']} errors; server CPU {_cpu_per_req(one):.1f} ms per request "
                               f"(in-process Tagger.tag: {1000 / inproc['single']['texts_per_s']:.1f} ms per text)"})
        rows.append({"name": f"{name}: /tag {CONCURRENT} clients", "value": f"{fmt_num(conc['texts_per_s'])} texts/s",
                     "detail": f"p50 {conc['p50_ms']:.1f} ms, p99 {conc['p99_ms']:.1f} ms; {conc['requests']:,} "
                               f"requests, {conc['errors']} errors; CPU s server {conc['server_cpu_s']:.1f} / "
                               f"client {conc['client_cpu_s']:.1f} / other processes {conc['others_cpu_s']:.1f} "
                               f"over {conc['seconds']:.1f} s x 2 cores"})
        for b in BATCHES:
            r = s[f"batch{b}"]
            ratio = r["texts_per_s"] / inproc[f"batch{b}"]["texts_per_s"]
            rows.append({"name": f"{name}: /tag_batch {b}", "value": f"{fmt_num(r['texts_per_s'])} texts/s",
                         "detail": f"{ratio:.2f}x in-process; {r['requests']:,} requests, {r['errors']} errors"})
        rows.append({"name": f"{name}: peak RSS (process tree)", "value": f"{fmt_num(s['peak_rss_mb'])} MB",
                     "detail": f"ready {s['startup_s']:.1f} s after start"})
    for name, err in errors.items():
        rows.append({"name": f"{name}: FAILED", "value": "n/a", "detail": err})

    targets = []
    b = servers.get("bentoml")
    single_ceiling = inproc["single"]["texts_per_s"]
    if b:
        p99 = b["single"]["p99_ms"]
        targets.append({"name": "bentoml /tag p99, 1 client", "target": "<= 10 ms", "value": f"{p99:.1f} ms",
                        "met": p99 <= 10,
                        "why": "" if p99 <= 10 else
                        f"the slowest 1% are long utterances: in-process Tagger.tag alone takes "
                        f"{inproc['single']['p99_ms']:.1f} ms at p99 on the same texts (mean {mean_chars:.0f} chars); "
                        f"HTTP adds ~{b['single']['p50_ms'] - inproc['single']['p50_ms']:.1f} ms at p50"})
        tps = b["concurrent"]["texts_per_s"]
        best = max(((n, s["concurrent"]["texts_per_s"]) for n, s in servers.items()), key=lambda kv: kv[1])
        targets.append({"name": f"bentoml /tag, {CONCURRENT} single-text clients", "target": ">= 700 texts/s",
                        "value": f"{tps:,.0f} texts/s", "met": tps >= 700,
                        "why": "" if tps >= 700 else
                        f"each /tag request costs the server {_cpu_per_req(b['single']):.1f} ms of CPU "
                        f"({_cpu_per_req(b['concurrent']):.1f} ms under 16 clients) against "
                        f"{1000 / single_ceiling:.1f} ms for the model itself, so even two free cores would cap "
                        f"it near {2000 / _cpu_per_req(b['concurrent']):,.0f} texts/s; "
                        f"one process tags ~{single_ceiling:,.0f} texts/s of these utterances one at a time "
                        f"in-process ({inproc['single_4threads']['texts_per_s']:,.0f} texts/s with 4 threads: "
                        f"threads do not add cores to one Python process); the 2 cores are shared by "
                        f"the server and the 16 load-generating client threads; best config here: {best[0]} at "
                        f"{best[1]:,.0f} texts/s; during this phase the server used "
                        f"{b['concurrent']['server_cpu_s']:.1f}, the client {b['concurrent']['client_cpu_s']:.1f} and "
                        f"other processes {b['concurrent']['others_cpu_s']:.1f} of "
                        f"{2 * b['concurrent']['seconds']:.1f} core-seconds"})
        ratio = b["batch256"]["texts_per_s"] / inproc["batch256"]["texts_per_s"]
        targets.append({"name": "bentoml /tag_batch 256 vs in-process", "target": ">= 0.9x",
                        "value": f"{ratio:.2f}x", "met": ratio >= 0.9,
                        "why": "" if ratio >= 0.9 else "JSON encoding/decoding of 256 texts and results per request "
                                                       "and the client on the same 2 cores"})
    notes = [f"Texts: {len(texts):,} real utterances (mean {mean_chars:.0f}, median {median_chars} characters), "
             "cycled in the same order for every server and the in-process reference.",
             f"Model: {model['tag']} ({model['kind']}), trained on the labels in this run.",
             f"Phases: at most {seconds:.0f} s and {max_requests:,} requests each.",
             "Client and server run on the same 2 cores: the client's CPU time is listed beside the server's."]
    if ctx.quick:
        notes.append("Quick run: 3 s phases; the model is the SGD one (inference cost is the same: same features, "
                     "same linear scoring).")
    return {"title": "Serving", "rows": rows, "targets": targets, "notes": notes,
            "data": {"inprocess": inproc, "servers": servers, "errors": errors, "mean_chars": mean_chars}}
