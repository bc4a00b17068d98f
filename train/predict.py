"""``predict``: JSONL in (``{"id", "text"}``), JSONL out (``{"id", "topics", "scores"}``).

This interface is used by evaluation tools outside the CLI: keep it exactly so.
"""

from __future__ import annotations

import gzip
import json
import sys
import zlib
from pathlib import Path
from typing import IO, Iterable, Iterator

from .errors import InputError, Interrupted
from .jsonline import check_unicode, decode_line, finite_number, loads_line, lone_surrogate
from .inference import Tagger
from .paths import to_stdout

BATCH = 256


def read_inputs(lines: Iterable[str | bytes], source: str) -> Iterator[tuple[object, str]]:
    """``(id, text)`` of each non-blank line; the first bad line raises :class:`InputError` naming it.

    ``id`` is a string or a finite number (echoed back as given); ``text`` a non-empty string.
    Lines given as bytes must be UTF-8."""
    for lineno, line in enumerate(lines, 1):
        where = f"{source}:{lineno}"
        if isinstance(line, bytes):
            try:
                line = decode_line(line, lineno)
            except UnicodeDecodeError as exc:
                raise InputError(f"{where}: invalid UTF-8 at byte {exc.start}; input must be UTF-8 JSONL") from None
        elif lineno == 1:
            line = line.removeprefix("\ufeff")  # a byte-order mark opening the input
        if not line.strip():
            continue
        obj = loads_line(line, where, InputError)
        if not isinstance(obj, dict):
            raise InputError(f"{where}: expected a JSON object with 'id' and 'text', found {_json_kind(obj)}")
        rid, text = obj.get("id"), obj.get("text")
        if not (isinstance(rid, str) or finite_number(rid)):
            found = "no 'id' field" if "id" not in obj else f"'id' = {rid!r:.40}"
            raise InputError(f"{where}: expected an 'id' that is a string or a number, found {found}")
        if not isinstance(text, str) or not text.strip():
            found = "no 'text' field" if "text" not in obj else f"'text' = {text!r:.40}"
            raise InputError(f"{where}: expected a non-empty string field 'text', found {found}")
        for name, value in (("id", rid), ("text", text)):
            if isinstance(value, str):
                check_unicode(value, name, where, InputError)
        yield rid, text


def _json_kind(value: object) -> str:
    """A parsed JSON value as its author would name it (not Python's ``NoneType``, ``str``...)."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return {list: "a list", str: "a string", dict: "an object"}.get(type(value), "a number")


GZIP_MAGIC = b"\x1f\x8b"


def _lines(fh, source: str) -> Iterator[bytes]:
    """The lines of a binary stream, decompressed when it is gzip data (told by its first bytes, so ``.jsonl.gz``
    files of the corpus and ``gzip -c … |`` on stdin both work); damaged gzip data raises InputError."""
    peek = getattr(fh, "peek", None)
    if peek is None or peek(2)[:2] != GZIP_MAGIC:
        yield from fh
        return
    lineno = 0
    try:
        with gzip.GzipFile(fileobj=fh, mode="rb") as unpacked:
            for lineno, line in enumerate(unpacked, 1):
                yield line
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{source}:{lineno + 1}: cannot read on from this line: not intact gzip data ({exc}); "
                         "expected an intact gzip file: restore it or compress it again") from None


def load_inputs(path: str) -> list[tuple[object, str]]:
    """All inputs, validated before anything is written (``-`` reads stdin, as UTF-8 whatever the locale; gzip
    data is decompressed).

    An input without any line (an empty file or stdin) is refused, as the corpus readers refuse empty files."""
    if path == "-":
        items, source = list(read_inputs(_lines(sys.stdin.buffer, "<stdin>"), "<stdin>")), "<stdin>"
    else:
        p = Path(path)
        if p.is_dir():
            raise InputError(f"--input {path}: is a folder; expected a JSONL file of {{\"id\", \"text\"}} lines "
                             "(tag-corpus reads corpus folders)")
        if not p.exists():  # not only regular files: a pipe as well (`--input <(zcat …)`)
            shown = path if len(path) <= 60 else path[:60] + "…"  # a text given where a file was expected
            raise InputError(f"{shown}: no such input file; expected a JSONL file of {{\"id\", \"text\"}} lines (or - "
                             "for stdin); to tag a text itself, use --text TEXT")
        try:
            with open(p, "rb") as fh:
                items, source = list(read_inputs(_lines(fh, path), path)), path
        except OSError as exc:
            raise InputError(f"{path}: cannot read the input file ({exc.strerror})") from None
    if not items:
        raise InputError(f"{source}: no input lines; expected at least one JSON line {{\"id\": ..., \"text\": ...}}")
    return items


def check_text(text: str, where: str = "--text") -> str:
    """The one text of ``predict --text``: the same rules as a JSONL line's."""
    if not text.strip():
        raise InputError(f"{where}: expected a non-empty text, found {text!r:.40}")
    at = lone_surrogate(text)
    if at is not None and "\udc80" <= text[at] <= "\udcff":  # how Python hands over argument bytes that are not UTF-8
        raise InputError(f"{where}: expected UTF-8 text, found the byte 0x{ord(text[at]) - 0xDC00:02x} at character "
                         f"{at}, which is not UTF-8 (a terminal or script in another encoding?): give the text in "
                         "UTF-8, or in a UTF-8 JSONL file with --input")
    check_unicode(text, "text", where, InputError)
    return text


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


class StdoutWriteError(InputError):
    """Standard output failed under the predictions (a full disk under ``> file``); some lines may be out."""


def stream_predictions(tagger: Tagger, items: list[tuple[object, str]], out: IO[str]) -> int:
    """Write the predictions to a stream that is not ours to remove (standard output): an interruption or a write
    error says how many lines were already written, since "nothing was written" would be untrue."""
    written = 0
    try:
        for line in predict_lines(tagger, items):
            out.write(line + "\n")
            written += 1
        out.flush()  # a write error of the last buffered lines is reported here too
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted after {written:,} of {len(items):,} prediction(s) were written to standard "
                          "output, which is therefore incomplete; run the command again (an interrupted run with "
                          "--output FILE leaves no file)") from None
    except BrokenPipeError:  # the reader went away (`| head`): the CLI's quiet exit
        raise
    except OSError as exc:
        raise StdoutWriteError(f"cannot write to standard output ({exc.strerror or exc}) after at most {written:,} "
                               f"of {len(items):,} prediction(s); the output is incomplete") from None
    return written


def predict_to_file(tagger: Tagger, items: list[tuple[object, str]], output: Path) -> int:
    """Write the predictions to ``output`` whole or not at all."""
    from .atomic import atomic_open

    try:
        with atomic_open(output) as fh:
            return write_predictions(tagger, items, fh)
    except OSError as exc:  # a full disk, say; atomic_open has removed its temporary file
        raise InputError(f"--output {output}: cannot write it ({exc.strerror or exc}); nothing was written") from None


def one_input(option: str | None, argument: str | None) -> str | None:
    """``predict``'s input, given as ``--input X`` or as the bare argument (``predict -`` reads stdin), not both."""
    if option is not None and argument is not None:
        raise InputError(f"the input is given twice (--input {option} and {argument}); expected one: --input FILE, "
                         "or FILE (- for stdin) alone")
    return argument if option is None else option


def prepare(text: str | None, input: str | None, output: Path | None) -> tuple[list[tuple[object, str]], Path | None]:
    """Check ``predict``'s arguments before the model is loaded: the items to tag, and the output file (None:
    standard output, also for ``-``)."""
    from .atomic import check_writable

    if (text is None) == (input is None):
        raise InputError("give exactly one of --text TEXT or --input FILE.jsonl (or - for stdin)")
    output = None if to_stdout(output) else output  # as --input -: standard output, not a file named "-"
    if output is not None:
        check_writable(output, inputs=[input] if input is not None else ())
    items = [(None, check_text(text))] if text is not None else load_inputs(input)
    return items, output
