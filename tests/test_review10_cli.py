"""Tenth session: a review of the CLI as a whole (help texts, option names, error paths, output targets).

Each test failed on the code before its fix; the module docstring of each group says what the user saw."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT
from train.cli import main

CORPUS = str(FIXTURES / "corpus_sample.jsonl")
LABELS = str(FIXTURES / "labels.jsonl")


def _inputs(tmp_path: Path) -> Path:
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": 1, "text": "保育園の待機児童対策について伺います"}\n{"id": 2, "text": "防災訓練"}\n',
                   encoding="utf-8")
    return inp


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# --- `python -m train.cli` (the way the docs and helpers run a checkout) said "cannot be directly executed"

def test_the_cli_runs_as_a_module():
    r = subprocess.run([sys.executable, "-m", "train.cli", "--help"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert "Usage: gikai-topics" in r.stdout and "tag-corpus" in r.stdout
