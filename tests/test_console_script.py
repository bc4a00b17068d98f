"""The installed console script works (packaging mistakes fail here)."""

import os
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
    assert r.returncode == 0 and "27,948 words x 100" in r.stdout, r.stderr  # the bundled vectors are installed


def test_bentofile_includes_everything_the_inference_surface_imports(tmp_path, trained_model_dir):
    """`bentoml build` packs only bentofile.yaml's `include` list: with exactly those files (and not the
    installed package), the service module imports and a saved model loads and tags."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    spec = yaml.safe_load((root / "bentofile.yaml").read_text(encoding="utf-8"))
    for rel in spec["include"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / rel, tmp_path / rel)
    code = (
        "import sys\n"
        "sys.meta_path = [f for f in sys.meta_path if 'editable' not in getattr(f, '__module__', '')]\n"
        "sys.path.insert(0, '.')\n"
        "from train.inference import load_model\n"
        f"tagger = load_model({str(trained_model_dir)!r})\n"
        "print(tagger.tag(['防災訓練について伺います'])[0]['topics'])\n"
        "import os, serve.service\n"
        "ours = [m for m in sys.modules if m.split('.')[0] in ('train', 'serve')]\n"
        "print('outside:', [m for m in ours if not os.path.abspath(sys.modules[m].__file__).startswith(os.getcwd())])\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "BENTOML_DO_NOT_TRACK": "true"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "outside: []" in r.stdout, r.stdout
