"""CSV for people: what every CSV the project writes (``find``, ``timeline``) does for a spreadsheet to open it.

* **Formula injection.**  Excel and LibreOffice read a cell starting with ``=``, ``+``, ``-`` or ``@`` as a
  formula, so a corpus text ``=HYPERLINK(...)`` or ``=cmd|...`` would run when a journalist opens the file.  As
  OWASP advises ("CSV Injection"), a *string* cell starting with one of those, a tab or a carriage return is
  written with a ``'`` in front: the spreadsheet shows the text, not a formula (in a text editor or pandas the
  quote is a visible character: the price of the protection).  Every string cell goes through it (texts,
  speakers, meetings, assemblies, ids, dates as the corpus wrote them); numbers are written as they are: a score
  or a count is not text from the corpus, and a negative number must stay a number.  Only the ASCII characters
  are prefixed, not their full-width forms (＝ ＋ － ＠): whether Excel reads a full-width ``＝`` opening a CSV
  cell as a formula could not be checked (no Excel here), and OWASP's list does not name them.  No line of
  ``seeds/`` starts with any of these characters, full-width or not.
* **Byte-order mark.**  Excel (in Japan above all) reads a CSV without one as the system code page (Shift_JIS /
  CP932) and shows every Japanese text as mojibake; with it, a double-click opens it right.  pandas, csvkit and
  Python's ``utf-8-sig`` skip the mark.  Files get it; standard output does not (down a pipe it would be a stray
  character glued to the first column's name).
"""

from __future__ import annotations

import csv
import io
from typing import IO, Any, Iterable

BOM = "\ufeff"
#: what a cell may not start with (OWASP): a spreadsheet would read it as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet shows it as text: a string starting with one of :data:`FORMULA_STARTS` with a
    ``'`` in front; anything else (a number, None, a safe string) as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class Writer:
    """A :func:`csv.writer` (lines ended by ``\\n``) whose every cell goes through :func:`safe_cell`, and whose cell
    holding a carriage return is quoted.

    Python 3.11's writer quotes a cell holding a character of the line terminator, but not a lone ``\\r``: with
    ``\\n`` lines, ``a\\rb`` is written bare, and a reader taking a lone ``\\r`` for a line end (Python's csv
    does) ends the row there: the rest opens a row of its own, and ``x\\r=HYPERLINK(…)`` a cell ``=HYPERLINK(…)``
    that no quote protects.  Such a row is written as with ``\\r\\n`` lines (which quotes the cell), then ended
    with ``\\n`` like the others."""

    def __init__(self, fh: IO[str]):
        self._fh = fh
        self._w = csv.writer(fh, lineterminator="\n")

    def writerow(self, row: Iterable[Any]) -> None:
        cells = [safe_cell(v) for v in row]
        if any(isinstance(v, str) and "\r" in v for v in cells):
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\r\n").writerow(cells)
            self._fh.write(buf.getvalue()[:-2] + "\n")
        else:
            self._w.writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(fh: IO[str], *, bom: bool) -> Writer:
    """A :class:`Writer` into ``fh``, after a UTF-8 byte-order mark when ``bom`` (a file, not standard output:
    see the module's docstring)."""
    if bom:
        fh.write(BOM)
    return Writer(fh)
