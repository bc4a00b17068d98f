"""``predict``: JSONL in (``{"id", "text"}``), JSONL out (``{"id", "topics", "scores"}``).

This interface is used by evaluation tools outside the CLI: keep it exactly so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Iterable, Iterator

from .errors import InputError
from .inference import Tagger

BATCH = 256


def read_inputs(lines: Iterable[str], source: str) -> Iterator[tuple[object, str]]:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{where}: expected a JSON object with 'id' and 'text', found {type(obj).__name__}")
        text = obj.get("text")
        if not isinstance(text, str):
            raise InputError(f"{where}: expected a string field 'text', found {text!r:.40}")
        yield obj.get("id"), text


def load_inputs(path: str) -> list[tuple[object, str]]:
    """All inputs, validated before anything is written."""
    if path == "-":
        return list(read_inputs(sys.stdin, "<stdin>"))
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such input file")
    try:
        with open(p, encoding="utf-8") as fh:
            return list(read_inputs(fh, path))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: invalid UTF-8 ({exc.reason}); input must be UTF-8 JSONL") from None


def predict_lines(tagger: Tagger, items: list[tuple[object, str]]) -> Iterator[str]:
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        for (rid, _), res in zip(chunk, tagger.tag([t for _, t in chunk])):
            yield json.dumps({"id": rid, "topics": res["topics"], "scores": res["scores"]}, ensure_ascii=False)


def write_predictions(tagger: Tagger, items: list[tuple[object, str]], out: IO[str]) -> int:
    n = 0
    for line in predict_lines(tagger, items):
        out.write(line + "\n")
        n += 1
    return n
