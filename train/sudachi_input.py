"""What Sudachi accepts as input: its two size limits (UTF-8 bytes, and bytes after its own input normalisation)
and how :class:`train.text.JapaneseAnalyzer` cuts a long utterance into pieces under both, at sentence ends when it
can.  A text longer than the limits is split, never an error."""

from __future__ import annotations

import re
import unicodedata

#: Sudachi refuses inputs over this many UTF-8 bytes.
SUDACHI_MAX_BYTES = 49149
#: We split well below the limit.
CHUNK_BYTES = 40000
#: Sudachi also refuses an input whose *normalised* form (see :func:`sudachi_input_bytes`) is over this
#: many UTF-8 bytes: '㍿' (3 bytes) becomes '株式会社' (12), so 16,386 bytes of '㍿' are already too many.
SUDACHI_MAX_NORMALIZED_BYTES = 65535
#: We split below that too; the margin covers Unicode-version differences between Python and Sudachi.
NORMALIZED_CHUNK_BYTES = 64000


_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])")


def _normalized_char_bytes(ch: str) -> int:
    """UTF-8 size of one character after Sudachi's input normalisation, at most.

    Sudachi's default input plugin lowercases a character (when it is upper case), then NFKC-normalises it
    on its own (unless rewrite.def says to leave it alone, or replaces a sequence by a shorter one); its
    other input plugins only shorten the text.  The largest of the four sizes below is therefore an upper
    bound, whichever of those happens.
    """
    low = ch.lower()
    return max(len(ch.encode("utf-8")), len(low.encode("utf-8")),
               len(unicodedata.normalize("NFKC", ch).encode("utf-8")),
               len(unicodedata.normalize("NFKC", low).encode("utf-8")))


class _CharBytes(dict):
    """Memo of :func:`_normalized_char_bytes` (a plain dict lookup is several times faster than lru_cache);
    emptied when it grows past 100,000 entries, so hostile text cannot make it hold every code point."""

    def __missing__(self, ch: str) -> int:
        if len(self) > 100_000:
            self.clear()
        n = self[ch] = _normalized_char_bytes(ch)
        return n


_char_bytes = _CharBytes()

#: No character grows past this many bytes in :func:`_normalized_char_bytes` ('ﷺ' U+FDFA: 33 bytes;
#: tests/test_review7_text.py checks every code point).
_MAX_NORMALIZED_CHAR_BYTES = 33


def sudachi_input_bytes(text: str) -> int:
    """An upper bound on the UTF-8 size of ``text`` as Sudachi sees it after its input normalisation
    (per character: lowercase, then NFKC), which is what its 65,535-byte limit counts."""
    if text.isascii():
        return len(text)  # lowercasing and NFKC keep ASCII one byte a character
    if unicodedata.is_normalized("NFKC", text) and text.lower() == text:
        return len(text.encode("utf-8"))  # Sudachi will change nothing
    return sum(map(_char_bytes.__getitem__, text))


def split_for_sudachi(text: str, max_bytes: int = CHUNK_BYTES,
                      max_normalized_bytes: int = NORMALIZED_CHUNK_BYTES) -> list[str]:
    """Split ``text`` into pieces of at most ``max_bytes`` UTF-8 bytes, each at most
    ``max_normalized_bytes`` once Sudachi has normalised it (:func:`sudachi_input_bytes`).

    Splits at sentence ends (。！？) when it can, otherwise at a character
    boundary.  Short texts come back as one piece.  Ordinary text hardly grows on normalisation, so for
    it only ``max_bytes`` binds and the pieces are those of the byte limit alone.
    """
    if ((len(text) * 4 <= max_bytes or len(text.encode("utf-8")) <= max_bytes)
            and (len(text) * _MAX_NORMALIZED_CHAR_BYTES <= max_normalized_bytes
                 or sudachi_input_bytes(text) <= max_normalized_bytes)):
        return [text]
    packed = _Pieces(max_bytes, max_normalized_bytes)
    for sentence in _SENTENCE_END.split(text):
        n = len(sentence.encode("utf-8"))
        m = sudachi_input_bytes(sentence)
        if n > max_bytes or m > max_normalized_bytes:  # one enormous "sentence": cut at character boundaries
            packed.close()
            for ch in sentence:
                packed.add(ch, len(ch.encode("utf-8")), _char_bytes[ch])
        else:
            packed.add(sentence, n, m)
    packed.close()
    return [p for p in packed.pieces if p]


class _Pieces:
    """Pieces built by appending units (sentences, or characters of an enormous one): a unit that would take the
    open piece over either limit closes it first."""

    def __init__(self, max_bytes: int, max_normalized_bytes: int) -> None:
        self.limits = (max_bytes, max_normalized_bytes)
        self.pieces: list[str] = []
        self.open: list[str] = []
        self.size = self.norm = 0

    def add(self, unit: str, size: int, norm: int) -> None:
        if self.open and (self.size + size > self.limits[0] or self.norm + norm > self.limits[1]):
            self.close()
        self.open.append(unit)
        self.size += size
        self.norm += norm

    def close(self) -> None:
        if self.open:
            self.pieces.append("".join(self.open))
            self.open, self.size, self.norm = [], 0, 0


def _halve(piece: str) -> list[str] | None:
    """Two non-empty halves of ``piece``, cut at the sentence end nearest its middle, else at the middle
    character (not before a combining mark); None for a single character."""
    if len(piece) < 2:
        return None
    mid = len(piece) // 2
    ends = [m.start() for m in _SENTENCE_END.finditer(piece) if 0 < m.start() < len(piece)]
    if ends:
        cut = min(ends, key=lambda i: abs(i - mid))
    else:
        cut = mid
        while cut > 1 and unicodedata.combining(piece[cut]):
            cut -= 1
    return [piece[:cut], piece[cut:]]
