"""Review 10: the inference surface as a demanding user meets it (predict, tag-corpus, serve and its HTTP API).

Each test failed on the code before its fix; the message of the commit that fixes it says why.
"""

from __future__ import annotations

import json
import os

import pytest

from conftest import write_jsonl
from train import tagging
from train.cli import main
from train.errors import InputError, Interrupted

_REAL_TAG_CHUNK = tagging.tag_chunk


def _dies_on_the_second_chunk(model_dir, rows, part_path, fmt, model_files=None):
    """A tag-corpus worker killed while tagging (the system's out-of-memory killer, say); module-level so the pool
    can send it to its (forked) worker by reference."""
    if part_path.endswith("part-000001.jsonl"):
        os._exit(9)
    return _REAL_TAG_CHUNK(model_dir, rows, part_path, fmt, model_files)


# --------------------------------------------------------------------------- tag-corpus

def test_a_worker_that_dies_is_one_line_and_its_run_resumes(corpus, tmp_path, trained_model_dir, monkeypatch,
                                                            capsys):
    """A worker process killed mid-run (out of memory at --jobs N) ended tag-corpus with a BrokenProcessPool
    traceback; the finished parts were kept but nothing said so."""
    full = tmp_path / "full.jsonl"
    tagging.tag_corpus([corpus], full, model=str(trained_model_dir), jobs=1, chunk_size=10)
    out = tmp_path / "t.jsonl"
    monkeypatch.setattr(tagging, "tag_chunk", _dies_on_the_second_chunk)
    args = ["tag-corpus", str(corpus), "--out", str(out), "--model", str(trained_model_dir), "--jobs", "1",
            "--chunk-size", "10"]
    assert main(args) == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # (before it, the progress lines)
    assert "Traceback" not in err and last.startswith("error: --jobs 1: a worker process was killed"), err
    assert "1 finished part(s) are kept in" in last and "run the same command again" in last
    assert not out.exists() and (tmp_path / "t.jsonl.parts" / "part-000000.jsonl").is_file()
    monkeypatch.setattr(tagging, "tag_chunk", _REAL_TAG_CHUNK)
    s = tagging.tag_corpus([corpus], out, model=str(trained_model_dir), jobs=1, chunk_size=10)
    assert s.chunks_reused == 1 and out.read_bytes() == full.read_bytes()


def test_ctrl_c_while_joining_the_parts_says_they_are_kept(corpus, tmp_path, trained_model_dir, monkeypatch):
    """Ctrl-C after the last chunk, while the parts were joined into --out, gave the CLI's "nothing was written"
    although every part was kept for a resume (the message that says so only covered the tagging)."""
    out = tmp_path / "t.parquet"
    join = tagging.join_parts

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(tagging, "join_parts", interrupted)
    kept = r"5 finished part\(s\) are kept in .*t\.parquet\.parts: run the same command again"
    with pytest.raises(Interrupted, match=kept):
        tagging.tag_corpus([corpus], out, model=str(trained_model_dir), jobs=1, chunk_size=10)
    assert not out.exists()
    monkeypatch.setattr(tagging, "join_parts", join)
    assert tagging.tag_corpus([corpus], out, model=str(trained_model_dir), jobs=1, chunk_size=10).chunks_reused == 5


def test_jobs_with_a_dask_scheduler_address_is_refused_not_ignored(corpus, tmp_path, trained_model_dir,
                                                                   monkeypatch):
    """`tag-corpus --dask tcp://… --jobs 8` ignored --jobs without a word (the cluster's workers do the work);
    evaluate refuses the same pair."""
    import train.cluster

    asked = []

    def fake_connect(address, n_workers):
        asked.append((address, n_workers))
        raise InputError("stop here")

    monkeypatch.setattr(train.cluster, "connect", fake_connect)
    with pytest.raises(InputError) as info:
        tagging.tag_corpus([corpus], tmp_path / "t.jsonl", model=str(trained_model_dir), jobs=3,
                           dask="tcp://127.0.0.1:1")
    assert str(info.value) == ("--jobs 3: expected no --jobs with --dask tcp://127.0.0.1:1, whose workers do the "
                               "tagging (start more with `dask worker ADDRESS --nworkers N`); drop --jobs, or use "
                               "--dask local --jobs N")
    assert not asked
    with pytest.raises(InputError, match="stop here"):  # --dask local --jobs N sizes the local cluster
        tagging.tag_corpus([corpus], tmp_path / "t.jsonl", model=str(trained_model_dir), jobs=3, dask="local")
    assert asked == [("local", 3)]


# --------------------------------------------------------------------------- predict

def _predict(model_dir, *args) -> list[str]:
    return ["predict", "--model", str(model_dir), *args]


def test_predict_to_stdout_interrupted_says_what_was_written(trained_model_dir, tmp_path, monkeypatch, capsys):
    """Ctrl-C (or SIGTERM) while predict wrote to standard output: the lines already written stayed there, and the
    CLI said "interrupted; nothing was written"."""
    import train.predict
    from train.inference import Tagger

    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": "防災訓練について"} for i in range(5)])
    real_tag, calls = Tagger.tag, []

    def tag(self, texts, explain=0):
        calls.append(len(texts))
        if len(calls) == 2:
            raise KeyboardInterrupt  # the second batch of two
        return real_tag(self, texts, explain)

    monkeypatch.setattr(train.predict, "BATCH", 2)
    monkeypatch.setattr(Tagger, "tag", tag)
    assert main(_predict(trained_model_dir, "--input", str(inp))) == 130
    captured = capsys.readouterr()
    assert [json.loads(line)["id"] for line in captured.out.splitlines()] == [0, 1]
    assert captured.err.strip().splitlines()[-1] == (
        "error: interrupted after 2 of 5 prediction(s) were written to standard output, which is therefore "
        "incomplete; run the command again (an interrupted run with --output FILE leaves no file)")
    calls.clear()
    out = tmp_path / "o.jsonl"  # to a file: nothing, as the message says
    assert main(_predict(trained_model_dir, "--input", str(inp), "--output", str(out))) == 130
    assert "nothing was written" in capsys.readouterr().err and not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.jsonl"]


def test_predict_output_dash_is_standard_output(trained_model_dir, tmp_path, monkeypatch, capsys):
    """`--input -` reads standard input, but `--output -` wrote a file named "-" in the current folder (and said
    "wrote 1 predictions to -")."""
    monkeypatch.chdir(tmp_path)
    assert main(_predict(trained_model_dir, "--text", "防災訓練", "--output", "-")) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["topics"] is not None and "wrote" not in captured.err
    assert not (tmp_path / "-").exists()


def test_predict_input_folder_is_named_a_folder(trained_model_dir, tmp_path, capsys):
    """`--input FOLDER` said "no such input file" of a folder that exists."""
    assert main(_predict(trained_model_dir, "--input", str(tmp_path))) == 1
    assert capsys.readouterr().err.strip() == (f"error: --input {tmp_path}: is a folder; expected a JSONL file of "
                                               '{"id", "text"} lines (tag-corpus reads corpus folders)')


def test_predict_reads_a_named_pipe(trained_model_dir, tmp_path, capsys):
    """`predict --input <(zcat in.jsonl.gz)` (a pipe, /dev/fd/63) was refused as "no such input file"."""
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    line = json.dumps({"id": "p", "text": "防災訓練について"}, ensure_ascii=False) + "\n"

    def feed():
        with open(fifo, "w", encoding="utf-8") as fh:
            fh.write(line)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        code = main(_predict(trained_model_dir, "--input", str(fifo)))
    finally:
        if writer.is_alive():  # the fifo was never opened for reading: open it, so the writer ends; without
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # waiting: a writer that has written and closed it, but
            writer.join()  # not yet ended, would leave a blocking open here waiting for ever
            os.close(fd)
        writer.join()
    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["id"] == "p"


def test_predict_reads_gzip_compressed_jsonl(trained_model_dir, tmp_path, monkeypatch, capsys):
    """The corpus files are .jsonl.gz (seeds/), and every corpus reader takes them; predict said "invalid UTF-8 at
    byte 1; input must be UTF-8 JSONL" of valid gzip-compressed UTF-8 JSONL."""
    import gzip
    import io
    import sys

    rows = [{"id": "a", "text": "防災訓練について", "municipality": "品川区"}, {"id": 2, "text": "学校給食"}]
    plain = write_jsonl(tmp_path / "in.jsonl", rows)
    packed = tmp_path / "in.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    expected, got = tmp_path / "expected.jsonl", tmp_path / "got.jsonl"
    assert main(_predict(trained_model_dir, "--input", str(plain), "--output", str(expected))) == 0
    assert main(_predict(trained_model_dir, "--input", str(packed), "--output", str(got))) == 0
    assert got.read_bytes() == expected.read_bytes()
    stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(packed.read_bytes())))
    monkeypatch.setattr(sys, "stdin", stdin)
    capsys.readouterr()
    assert main(_predict(trained_model_dir, "--input", "-")) == 0
    assert capsys.readouterr().out == expected.read_text(encoding="utf-8")
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(packed.read_bytes()[:-12])
    assert main(_predict(trained_model_dir, "--input", str(cut), "--output", str(got.with_name("x.jsonl")))) == 1
    err = capsys.readouterr().err
    assert "cut.jsonl.gz:" in err and "not intact gzip data" in err and "Traceback" not in err
    assert not got.with_name("x.jsonl").exists()


@pytest.mark.parametrize("line, found", [("null", "null"), ("[1]", "a list"), ('"x"', "a string"), ("3", "a number"),
                                         ("true", "true")])
def test_predict_names_a_line_that_is_not_an_object_in_json_terms(trained_model_dir, tmp_path, capsys, line, found):
    """A JSON line that is not an object was described by its Python type: "found NoneType", "found str"."""
    inp = tmp_path / "in.jsonl"
    inp.write_text(line + "\n", encoding="utf-8")
    assert main(_predict(trained_model_dir, "--input", str(inp))) == 1
    assert capsys.readouterr().err.strip() == (f"error: {inp}:1: expected a JSON object with 'id' and 'text', "
                                               f"found {found}")


def test_predict_text_that_is_not_utf8_says_so(trained_model_dir):
    """`--text` in bytes that are not UTF-8 (a Shift_JIS terminal, say) was reported as "field 'text' holds a lone
    surrogate ... the producer escaped half of a surrogate pair": a JSON message about a command-line argument."""
    import subprocess
    import sys

    from conftest import ROOT

    cmd = [sys.executable, "-c", "from train.cli import entrypoint; entrypoint()", "predict", "--model",
           str(trained_model_dir).encode(), "--text", "防災".encode("shift_jis")]
    r = subprocess.run(cmd, capture_output=True, cwd=ROOT, timeout=300)
    assert r.returncode == 1 and not r.stdout
    assert r.stderr.decode().strip() == (
        "error: --text: expected UTF-8 text, found the byte 0x96 at character 0, which is not UTF-8 (a terminal or "
        "script in another encoding?): give the text in UTF-8, or in a UTF-8 JSONL file with --input")


# --------------------------------------------------------------------------- HTTP

def _schema(spec: dict, schema: dict) -> dict:
    return spec["components"]["schemas"][schema["$ref"].split("/")[-1]] if "$ref" in schema else schema


def test_docs_json_states_the_limits_the_service_enforces(asgi_client):
    """/docs.json gave no bound for explain (its limit, GIKAI_TOPICS_MAX_EXPLAIN = 50, showed only in the 400), and
    the text and batch limits only in prose: a client generator could not know them."""
    spec = asgi_client.get("/docs.json").json()
    bodies = {route: _schema(spec, spec["paths"][route]["post"]["requestBody"]["content"]["application/json"]["schema"])
              for route in ("/tag", "/tag_batch")}
    for body in bodies.values():
        explain = body["properties"]["explain"]
        assert (explain["minimum"], explain["maximum"]) == (0, 50) and "0 to 50" in explain["description"]
    text = bodies["/tag"]["properties"]["text"]
    assert (text["minLength"], text["maxLength"]) == (1, 20000)
    texts = bodies["/tag_batch"]["properties"]["texts"]
    assert (texts["minItems"], texts["maxItems"]) == (1, 1000)
    assert (texts["items"]["minLength"], texts["items"]["maxLength"]) == (1, 20000)
    # the schema describes what the service does: the bounds answer 200, one past them 400
    ok = {"text": "あ" * 20000, "explain": 50}
    assert asgi_client.post("/tag", json=ok).status_code == 200
    assert asgi_client.post("/tag", json={**ok, "explain": 51}).status_code == 400
    assert asgi_client.post("/tag", json={**ok, "text": "あ" * 20001}).status_code == 400


def test_docs_json_limits_follow_the_settings(trained_model_dir):
    """The bounds are the service's settings, not the defaults written out."""
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import json, serve.service as s\n"
            "print(json.dumps([s.TagRequest.model_json_schema(), s.TagBatchRequest.model_json_schema()]))\n")
    env = {**os.environ, "GIKAI_TOPICS_MODEL": str(trained_model_dir), "GIKAI_TOPICS_MAX_EXPLAIN": "7",
           "GIKAI_TOPICS_MAX_CHARS": "300", "GIKAI_TOPICS_MAX_BATCH": "9"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    tag, batch = json.loads(r.stdout)
    assert tag["properties"]["explain"]["maximum"] == batch["properties"]["explain"]["maximum"] == 7
    assert tag["properties"]["text"]["maxLength"] == batch["properties"]["texts"]["items"]["maxLength"] == 300
    assert batch["properties"]["texts"]["maxItems"] == 9


@pytest.mark.parametrize("path, raw, column", [
    ("/tag", rb'{"text": "\ud800"}', 17),            # a high half, then no \u escape of the low one
    ("/tag", rb'{"text": "\udc00"}', 16),            # a low half alone: "lone leading surrogate", said the parser
    ("/tag", rb'{"text": "\ud800\u0041"}', 22),      # a high half, then no low half
    ("/tag_batch", rb'{"texts": ["ok", "\udfff"]}', 24),
])
def test_half_a_surrogate_pair_in_json_is_named_with_the_fix(asgi_client, path, raw, column):
    """An escaped half of a surrogate pair got the parser's "unexpected end of hex escape" (for an escape that is
    complete) or "lone leading surrogate" (for a trailing half): neither said what was wrong nor how to fix it."""
    r = asgi_client.post(path, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == (
        f"body: invalid JSON at line 1 column {column}: a \\u escape of half a surrogate pair (\\ud800-\\udfff) "
        "without its other half; expected valid Unicode text: send the character itself in UTF-8, or both halves "
        "of its pair")


def test_other_json_errors_keep_the_parsers_words(asgi_client):
    r = asgi_client.post("/tag", content=rb'{"text": "\u12"}', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "body: Invalid JSON: invalid escape at line 1 column 15"


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_byte_order_mark_opening_the_body_is_ignored_as_predict_ignores_it(asgi_client, content_type):
    """A body saved by a Windows editor (or PowerShell's Out-File) starts with a UTF-8 byte-order mark, which JSON
    readers may ignore (RFC 8259, 8.1) and predict and the corpus readers do; the service answered 400 "Invalid JSON:
    expected value at line 1 column 1", naming neither the mark nor the fix."""
    body = json.dumps({"text": "避難所の備蓄について伺います", "explain": 2}, ensure_ascii=False).encode()
    plain = asgi_client.post("/tag", content=body, headers={"content-type": content_type})
    marked = asgi_client.post("/tag", content=b"\xef\xbb\xbf" + body, headers={"content-type": content_type})
    assert plain.status_code == marked.status_code == 200, marked.text
    assert marked.json() == plain.json()
    batch = b'\xef\xbb\xbf{"texts": ["\xe9\x98\xb2\xe7\x81\xbd"]}'
    assert asgi_client.post("/tag_batch", content=batch, headers={"content-type": content_type}).status_code == 200
    inner = b'{"text": "\xef\xbb\xbf"}'  # a mark inside a text is text: tagged as before
    assert asgi_client.post("/tag", content=inner, headers={"content-type": content_type}).status_code == 200


@pytest.mark.slow
def test_real_bentoml_serve_takes_a_byte_order_mark_names_half_surrogates_and_states_its_limits(trained_model_dir,
                                                                                              tmp_path):
    """The HTTP findings against a real `bentoml serve`, with limits set by the GIKAI_TOPICS_* variables."""
    import httpx
    from test_serve import real_server

    with real_server(trained_model_dir, tmp_path, GIKAI_TOPICS_THREADS="2", GIKAI_TOPICS_MAX_EXPLAIN="7",
                     GIKAI_TOPICS_MAX_CHARS="300", GIKAI_TOPICS_MAX_BODY_BYTES="4000") as base:
        with httpx.Client(base_url=base, timeout=60) as c:
            body = json.dumps({"text": "避難所の備蓄について伺います"}, ensure_ascii=False).encode()
            r = c.post("/tag", content=b"\xef\xbb\xbf" + body, headers={"content-type": "application/json"})
            assert r.status_code == 200 and r.json() == c.post("/tag", content=body).json(), r.text
            r = c.post("/tag", content=rb'{"text": "\udc00"}', headers={"content-type": "application/json"})
            assert r.status_code == 400 and "half a surrogate pair" in r.json()["error"], r.text
            tag = c.get("/docs.json").json()["components"]["schemas"]
            explain = [s["properties"]["explain"] for s in tag.values() if "explain" in s.get("properties", {})]
            assert explain and all(e["maximum"] == 7 for e in explain)
            assert c.post("/tag", json={"text": "防災", "explain": 7}).status_code == 200
            assert c.post("/tag", json={"text": "防災", "explain": 8}).status_code == 400
            assert c.post("/tag", json={"text": "あ" * 301}).status_code == 400
        _check_the_body_limit_of_a_real_server(base, 4000)


def _check_the_body_limit_of_a_real_server(base: str, limit: int) -> None:
    """GIKAI_TOPICS_MAX_BODY_BYTES (tests/test_body_limit_serve.py) through uvicorn: a body at the limit is tagged;
    one over it gets the 413, whether its Content-Length says so or it comes chunked; and a Content-Length over it
    is answered before any byte of the body is sent."""
    import socket
    from urllib.parse import urlsplit

    import httpx

    body = json.dumps({"texts": ["避難所の備蓄について伺います"]}, ensure_ascii=False).encode()
    at_limit, over = body + b" " * (limit - len(body)), body + b" " * (limit + 1 - len(body))
    json_type = {"content-type": "application/json"}
    with httpx.Client(base_url=base, timeout=60) as c:
        assert c.post("/tag_batch", content=at_limit, headers=json_type).status_code == 200
    for content, found in [(over, f"{limit + 1:,} bytes (its Content-Length)"),
                           (iter([over[:1000], over[1000:]]), "(sent without a Content-Length;")]:
        with httpx.Client(base_url=base, timeout=60) as c:
            r = c.post("/tag_batch", content=content, headers=json_type)
        assert r.status_code == 413 and set(r.json()) == {"error", "detail"}, r.text
        assert found in r.json()["error"] and f"over the limit of {limit:,} bytes" in r.json()["error"], r.text
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=60) as sock:  # headers only, no body
        sock.sendall(b"POST /tag_batch HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 10000000000\r\n\r\n")
        answer = b""
        while b"}" not in answer:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b"10,000,000,000 bytes (its Content-Length) is over the limit" in answer, answer


# --------------------------------------------------------------------------- a disk that fills up

def _cli_with_file_size_limit(args: list[str], limit: int, stdout=None):
    """The CLI in a process that may write files of at most ``limit`` bytes, as on a disk about to fill up (the
    write fails with EFBIG, an OSError like ENOSPC: Python ignores SIGXFSZ)."""
    import resource
    import subprocess
    import sys

    from conftest import ROOT

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-c", "from train.cli import entrypoint; entrypoint()", *args],
                          stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.PIPE,
                          cwd=ROOT, timeout=300, preexec_fn=limited)


def test_predict_output_on_a_full_disk_is_one_line(trained_model_dir, tmp_path):
    """A write error while predict wrote --output (or standard output redirected to a file) was an OSError
    traceback."""
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": "防災訓練について伺います"} for i in range(200)])
    out = tmp_path / "out.jsonl"
    r = _cli_with_file_size_limit(_predict(trained_model_dir, "--input", str(inp), "--output", str(out)), 4000)
    err = r.stderr.decode()
    assert r.returncode == 1 and "Traceback" not in err, err
    assert err.strip() == f"error: --output {out}: cannot write it (File too large); nothing was written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
    with open(tmp_path / "stdout.jsonl", "wb") as redirected:
        r = _cli_with_file_size_limit(_predict(trained_model_dir, "--input", str(inp)), 4000, stdout=redirected)
    err = r.stderr.decode()
    assert r.returncode == 1 and "Traceback" not in err, err
    assert err.strip().startswith("error: cannot write to standard output (File too large) after ")
    assert err.strip().endswith(" of 200 prediction(s); the output is incomplete")


def test_tag_corpus_part_that_cannot_be_written_is_one_line(corpus, trained_model_dir, tmp_path):
    """A worker that could not write its part file (a full disk) ended tag-corpus with an OSError traceback."""
    out = tmp_path / "t.jsonl"
    r = _cli_with_file_size_limit(["tag-corpus", str(corpus), "--out", str(out), "--model", str(trained_model_dir),
                                   "--jobs", "1", "--chunk-size", "20"], 2000)
    err = r.stderr.decode()
    assert r.returncode == 1 and "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: {tmp_path / 't.jsonl.parts' / 'part-000000.jsonl'}: cannot write this part "
                           "(File too large)"), last
    assert "run the same command again to resume" in last and not out.exists()
    r = _cli_with_file_size_limit(["tag-corpus", str(corpus), "--out", str(out), "--model", str(trained_model_dir),
                                   "--jobs", "1", "--chunk-size", "20", "--restart"], 100)  # not even the manifest
    err = r.stderr.decode()
    assert r.returncode == 1 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == (f"error: --out {out}: cannot make its parts folder {out}.parts (File too "
                                            "large); nothing was written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


def test_tag_corpus_output_that_cannot_be_written_is_one_line(corpus, trained_model_dir, tmp_path, monkeypatch):
    """Joining the parts into --out on a full disk: an OSError traceback, the parts kept without a word."""
    import errno

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tagging, "join_parts", full)
    out = tmp_path / "t.parquet"
    with pytest.raises(InputError) as info:
        tagging.tag_corpus([corpus], out, model=str(trained_model_dir), jobs=1, chunk_size=10)
    assert str(info.value).startswith(f"--out {out}: cannot write it (No space left on device); 5 finished part(s) "
                                      "are kept in ")
    assert not out.exists()
