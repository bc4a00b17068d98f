"""One line of JSON input, parsed so that every way it can fail becomes a message naming where.

``json.loads`` fails in more ways than ``JSONDecodeError``: a number of more than 4,300
digits raises ``ValueError``, deep nesting raises ``RecursionError``, and it accepts
``NaN``/``Infinity``, which no strict JSON reader does.  JSON escapes can also smuggle
in a lone surrogate (``"\\ud800"``), which parses but cannot be written back as UTF-8.
Every JSONL reader of the package goes through here.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import math
import re

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
    except (ValueError, RecursionError) as exc:  # also huge integers, nesting too deep, NaN/Infinity
        raise error(f"{where}: {_malformed(exc)}") from None


def _malformed(exc: ValueError | RecursionError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        at = f"line {exc.lineno}, column {exc.colno}" if exc.lineno > 1 else f"column {exc.colno}"  # a whole file
        # some of json's messages end with the preposition ("Unterminated string starting at"): not said twice
        return f"malformed JSON ({exc.msg}{'' if exc.msg.endswith(' at') else ' at'} {at})"
    return f"malformed JSON ({str(exc).split(';')[0][:100]})"


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


# --------------------------------------------------------------------------- the last line of a JSON-lines file

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUMBER_CHARS = re.compile(r"[-+0-9.eE]+")
_BLANKS = " \t\r\n"
_HEX = frozenset("0123456789abcdefABCDEF")
#: the members without which a line is no label (see ``train.labeling.store``)
LABEL_MEMBERS = ("id", "text", "topics")


def _string_end(text: str, i: int) -> int | None:
    """End of the JSON string opening at ``text[i]``; -1 if ``text`` stops inside it; None if it is no JSON string."""
    j, n = i + 1, len(text)
    while j < n:
        c = text[j]
        if c == '"':
            return j + 1
        if c == "\\":
            if j + 1 == n:
                return -1
            e = text[j + 1]
            if e == "u":
                digits = text[j + 2:j + 6]
                if not all(d in _HEX for d in digits):
                    return None
                if len(digits) < 4:
                    return -1
                j += 6
            elif e in '"\\/bfnrt':
                j += 2
            else:
                return None
        elif ord(c) < 0x20:  # a control character: escaped in JSON
            return None
        else:
            j += 1
    return -1


def object_prefix(text: str) -> dict | None:
    """The members written whole (key -> value) of the JSON object ``text`` begins, when ``text`` stops short of
    its end (some continuation would make it a whole object: what an interrupted write leaves); None when no
    continuation can (a mistake: a missing comma, single quotes, a comma before '}'...), when ``text`` is no
    object, or when it is a whole one."""
    n = len(text)
    i = len(text) - len(text.lstrip(_BLANKS))
    if i == n or text[i] != "{":
        return None
    stack: list[str] = []  # open '{' and '['
    expect = "value"  # value | value_or_end (after '[') | key | key_or_end (after '{') | colon | after (a value)
    members: dict = {}
    key, start = None, None  # the top-level member being read, and where its value starts

    def finished(end: int) -> None:  # a value ended at ``end``: keep it when it is a top-level member's
        nonlocal key, start
        if len(stack) == 1 and key is not None and start is not None:
            try:
                members[key] = json.loads(text[start:end])
            except (ValueError, RecursionError):
                pass
            key, start = None, None

    while i < n:
        c = text[i]
        if c in _BLANKS:
            i += 1
        elif expect == "colon":
            if c != ":":
                return None
            expect, i = "value", i + 1
        elif expect == "after":
            if not stack:
                return None  # something after the whole object
            close = "}" if stack[-1] == "{" else "]"
            if c == ",":
                expect = "key" if close == "}" else "value"
            elif c == close:
                stack.pop()
                finished(i + 1)
            else:
                return None
            i += 1
        elif (c, expect) in (("}", "key_or_end"), ("]", "value_or_end")):  # an empty object or array ends
            stack.pop()
            expect = "after"
            finished(i + 1)
            i += 1
        elif expect in ("key", "key_or_end"):
            if c != '"':
                return None
            end = _string_end(text, i)
            if end is None:
                return None
            if end < 0:
                return members
            if len(stack) == 1:
                key = json.loads(text[i:end])
            expect, i = "colon", end
        else:  # a value
            if len(stack) == 1:
                start = i
            if c in "{[":
                stack.append(c)
                expect = "key_or_end" if c == "{" else "value_or_end"
                i += 1
                continue
            if c == '"':
                end = _string_end(text, i)
                if end is None:
                    return None
                if end < 0:
                    return members
            elif m := _NUMBER_CHARS.match(text, i):
                end = m.end()
                if end == n:  # stops inside a number: "-", "1.", "1e" lead on, "01" does not
                    return members if _NUMBER.fullmatch(m.group()) or _NUMBER.fullmatch(m.group() + "0") else None
                if not _NUMBER.fullmatch(m.group()):
                    return None
            else:
                word = next((w for w in ("true", "false", "null") if text.startswith(w[:n - i], i)), None)
                if word is None:
                    return None
                if i + len(word) > n:
                    return members  # stops inside the word
                end = i + len(word)
            expect = "after"
            finished(end)
            i = end
    return members if stack else None


@dataclasses.dataclass(frozen=True)
class Tail:
    """The last line of a JSON-lines file that does not end in a newline (see :func:`read_tail`).

    ``kind``: ``blank`` (only blanks), ``whole`` (a whole JSON value that lacks only its newline), ``cut`` (the
    start of a label that an interrupted write left: stops short of the end and holds no mistake, and not yet
    the label's id, text and topics all whole), ``unended`` (a label whose id, text and topics are whole but
    whose line stops short: removing it would lose the label) or ``broken`` (a mistake no continuation mends, or
    invalid UTF-8: typed by hand, not left by a write)."""

    kind: str
    raw: bytes
    members: dict = dataclasses.field(default_factory=dict)  # the members written whole (cut, unended)
    reason: str = ""  # what is wrong (unended, broken)

    def _shown(self) -> str:
        text = self.raw.decode("utf-8", "backslashreplace")
        return repr(text if len(text) <= 100 else f"{text[:70]}…{text[-25:]}")

    def _label(self) -> str:
        rid = self.members.get("id")
        return f"the label of {rid!r}" if isinstance(rid, str) and rid else "a label"

    def note(self, where: str) -> str:
        """What was done to a ``cut`` line by an append (it was removed)."""
        rid = self.members.get("id")
        again = (f"label {rid!r} again" if isinstance(rid, str) and rid else "no id could be read in it")
        return (f"{where}: removed an unfinished last line ({len(self.raw)} bytes without a newline: the start of "
                f"{self._label()} that an interrupted write left, never a whole label): {self._shown()}; {again}")

    def problem(self, where: str) -> str:
        """What is wrong and how to fix it (``labels validate``; an append refuses ``unended`` and ``broken``)."""
        if self.kind == "cut":
            return (f"{where}: expected whole labels, found an unfinished last line ({len(self.raw)} bytes without a "
                    f"newline: the start of {self._label()} that an interrupted write left): {self._shown()}; "
                    "remove it (the next `labels add`, `labels merge`, `labels import` or `label` to this file "
                    "removes it and says so), then label that utterance again")
        if self.kind == "unended":
            return (f"{where}: expected the last line to be a whole label ending in a newline, found "
                    f"{self._label()} (its id, text and topics whole) stopping short of its end ({self.reason}): "
                    f"{self._shown()}; it is left as it is so the label is not lost: end the line (close it with "
                    "'}', removing any unfinished member) and add a newline, or remove the line")
        return (f"{where}: expected the last line to be a whole label ending in a newline, found {self.reason} in "
                f"{self._shown()}; not the unfinished line an interrupted write leaves (those stop short, with no "
                "mistake in them), so it is left as it is: fix the line (or remove it) and end it with a newline")


def read_tail(raw: bytes, *, first: bool = False) -> Tail:
    """What the last line ``raw`` of a JSON-lines file is when no newline follows it (``first``: it is also the
    file's first line, where a byte-order mark is allowed).  NUL bytes at its end are no part of it (a file that
    grew by a write whose data never reached the disk holds them after a crash); nor is a UTF-8 character cut in
    two at its very end, inside a string."""
    body = raw.rstrip(b"\0")
    nuls = len(body) < len(raw)
    if not body.strip():
        return Tail("cut" if nuls else "blank", raw)
    bom = len(codecs.BOM_UTF8) if first and body.startswith(codecs.BOM_UTF8) else 0
    body = body[bom:]
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError as exc:
        return Tail("broken", raw, reason=f"invalid UTF-8 at byte {bom + exc.start + 1} of the line")
    split = len(text.encode("utf-8")) < len(body)  # a character cut in two at the very end
    try:
        json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        reason = _malformed(exc)
    else:
        if not nuls and not split:
            return Tail("whole", raw)
        reason = "whole JSON followed by " + ("part of a character" if split else "NUL bytes")
    # a character cut in two at the end can only be inside a string: read as any character there
    members = object_prefix(text + ("\u3042" if split else ""))
    if members is None:
        return Tail("broken", raw, reason=reason)
    if all(m in members for m in LABEL_MEMBERS):
        return Tail("unended", raw, members, reason)
    return Tail("cut", raw, members)
