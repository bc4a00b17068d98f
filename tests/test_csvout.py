"""The CSV cells every CSV of the project (find, timeline) writes: text a spreadsheet would run is quoted."""

from __future__ import annotations

import io

import pytest

from train.csvout import safe_cell, writer


@pytest.mark.parametrize("value", ["=1+1", "+81 3", "-", "@SUM(A1)", "\tx", "\r=1"])
def test_a_text_a_spreadsheet_reads_as_a_formula_gets_a_quote(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", [-0.5, -3, 0.9, None, True, "", "品川区", "1=1", " =1", "'=1", "＝１＋１", "－", "＠"])
def test_numbers_and_other_texts_are_as_they_are(value):
    # full-width ＝ ＋ － ＠ are left: not on OWASP's list, and what Excel makes of them was not checked
    assert safe_cell(value) is value


def test_the_writer_writes_the_mark_when_asked_and_quotes_every_row():
    buf = io.StringIO()
    w = writer(buf, bom=True)
    w.writerow(["a", "b"])
    w.writerows([["=x", -1.5], ["y", "-2"]])
    assert buf.getvalue() == "\ufeffa,b\n'=x,-1.5\ny,'-2\n"
    buf = io.StringIO()
    writer(buf, bom=False).writerow(["a"])
    assert buf.getvalue() == "a\n"


def test_find_writes_no_mark_into_a_stream_named_by_out(tmp_path):
    """``--out /dev/stdout`` or a named pipe is standard output in effect: no mark glued to the first column."""
    import json
    import os
    import threading

    from train.cli import main

    row = {"id": "s:1", "municipality": "品川区", "date": "2023-01-10", "meeting": "本会議", "speaker": "x",
           "text": "=HYPERLINK(1)", "source": "x.jsonl", "topics": ["dx"], "score_dx": 0.9}
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    try:
        assert main(["find", str(tagged), "--format", "csv", "--out", str(fifo)]) == 0
    finally:
        if reader.is_alive():  # unblock the reader if nothing opened the pipe; without waiting: a reader that has
            try:  # read and closed it, but not yet ended, would leave a blocking open here waiting for ever
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # ENXIO: no reader has it open, so none is waiting
                pass
        reader.join()
    assert got[0].startswith(b"id,") and b"'=HYPERLINK(1)" in got[0]
    assert main(["find", str(tagged), "--format", "csv", "--out", str(tmp_path / "f.csv")]) == 0
    assert (tmp_path / "f.csv").read_bytes().startswith(b"\xef\xbb\xbfid,")
