"""One line of JSON input, parsed so that every way it can fail becomes a message naming where.

``json.loads`` fails in more ways than ``JSONDecodeError``: a number of more than 4,300
digits raises ``ValueError``, deep nesting raises ``RecursionError``, and it accepts
``NaN``/``Infinity``, which no strict JSON reader does.  JSON escapes can also smuggle
in a lone surrogate (``"\\ud800"``), which parses but cannot be written back as UTF-8.
Every JSONL reader of the package goes through here.
"""

from __future__ import annotations

import json
import math

from .errors import GikaiError


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


def loads_line(line: str | bytes, where: str, error: type[GikaiError]) -> object:
    """``json.loads`` for one untrusted line; failures raise ``error("WHERE: malformed JSON (...)")``."""
    # A line's own newline is no part of its JSON: kept, a line cut short is reported "at column 1" (of the
    # next line) instead of at its end
    line = line.rstrip(b"\r\n" if isinstance(line, bytes) else "\r\n")
    try:
        return json.loads(line, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        at = f"line {exc.lineno}, column {exc.colno}" if exc.lineno > 1 else f"column {exc.colno}"  # a whole file
        raise error(f"{where}: malformed JSON ({exc.msg} at {at})") from None
    except (ValueError, RecursionError) as exc:  # huge integers, nesting too deep, NaN/Infinity
        reason = str(exc).split(";")[0][:100]
        raise error(f"{where}: malformed JSON ({reason})") from None


def decode_line(raw: bytes, lineno: int) -> str:
    """One line of a UTF-8 file (raises ``UnicodeDecodeError``).  A byte-order mark opening the file (line 1)
    is dropped: Windows editors write one, and it is no part of the JSON."""
    return raw.decode("utf-8-sig" if lineno == 1 else "utf-8")


def lone_surrogate(text: str) -> int | None:
    """Index of the first lone surrogate in ``text`` (not encodable as UTF-8), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def check_unicode(value: str, field: str, where: str, error: type[GikaiError]) -> None:
    at = lone_surrogate(value)
    if at is not None:
        raise error(f"{where}: field '{field}' holds a lone surrogate (\\u{ord(value[at]):04x}) at character {at}: "
                    "expected valid Unicode text; the producer escaped half of a surrogate pair")


def finite_number(value: object) -> bool:
    """A JSON/TOML number usable as one: not a boolean (``true`` is an int in Python), not inf or nan."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
