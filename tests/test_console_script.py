"""The installed console script works (packaging mistakes fail here)."""

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES


def test_installed_console_script():
    beside = Path(sys.executable).parent / "gikai-topics"  # the venv running the tests
    exe = str(beside) if beside.exists() else shutil.which("gikai-topics")
    assert exe, "the gikai-topics console script is not installed (pip install -e .)"
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    for cmd in ("corpus", "labels", "train", "evaluate", "predict", "serve"):
        assert cmd in r.stdout
    r = subprocess.run([exe, "corpus", "stats", str(FIXTURES / "corpus_sample.jsonl")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "records 26" in r.stdout
    r = subprocess.run([exe, "labels", "validate", str(FIXTURES / "labels.jsonl")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([exe, "vectors", "info"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "27,970 words x 100" in r.stdout, r.stderr  # the bundled vectors are installed
