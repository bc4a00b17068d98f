"""Problems found by walking through the README command by command at tiny scale."""

from __future__ import annotations

import json
import shutil

import pytest

from train.cli import main
from train.errors import InputError, LabelError
from train.jsonline import loads_line


# --------------------------------------------------------------------------- malformed JSON: where


def test_a_line_cut_short_is_reported_at_its_end_not_at_column_1(tmp_path, capsys):
    """A JSONL line read with its newline was reported "at column 1" (of the line after it)."""
    with pytest.raises(InputError, match=r"f:3: malformed JSON \(Expecting value at column 21\)"):
        loads_line('{"id": "x", "text": \n', "f:3", InputError)
    with pytest.raises(InputError, match=r"at column 21\)"):
        loads_line(b'{"id": "x", "text": \r\n', "f:3", InputError)
    bad = tmp_path / "in.jsonl"
    bad.write_text('{"id": "a", "text": "防災"\n', encoding="utf-8")
    assert main(["predict", "--model", "unused", "--input", str(bad)]) == 1
    assert "in.jsonl:1: malformed JSON (Expecting ',' delimiter at column 25)" in capsys.readouterr().err


def test_a_whole_file_names_the_line_of_its_error(tmp_path, capsys):
    """`labels import` parses a whole file: "Extra data at column 1" did not say on which line."""
    jsonl = tmp_path / "export.json"
    jsonl.write_text('{"id": 1}\n{"id": 2}\n', encoding="utf-8")  # JSONL given where a JSON export is expected
    assert main(["labels", "import", str(jsonl), "--out", str(tmp_path / "x.jsonl"), "--labels", str(tmp_path)]) == 1
    assert "malformed JSON (Extra data at line 2, column 1)" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()
    with pytest.raises(LabelError, match=r"at column 2\)"):
        loads_line("{\n", "f", LabelError)

