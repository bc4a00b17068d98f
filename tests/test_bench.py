"""The benchmark harness imports and renders (no servers, no timings, no training)."""

import importlib

import numpy as np
import pytest

import bench
from bench.render import all_targets, render_markdown, render_table


@pytest.mark.parametrize("name", [*bench.SECTIONS, "common", "http_load", "render", "fastapi_app_source", "__main__"])
def test_modules_import(name):
    if name == "fastapi_app_source":  # importing the app would load a model: check it compiles instead
        from pathlib import Path

        src = Path(bench.__file__).with_name("fastapi_app.py")
        compile(src.read_text(encoding="utf-8"), str(src), "exec")
        return
    mod = importlib.import_module(f"bench.{name}")
    if name in bench.SECTIONS:
        assert callable(mod.run)


def fake_results():
    return {
        "meta": {"mode": "quick", "command": "python -m bench --quick", "started_at": "2026-01-01T00:00:00+00:00",
                 "seconds": 123.0, "git_commit": "abc", "sections_run": ["analyzer", "serving"],
                 "machine": {"cores": 2, "cpu_model": "Test CPU", "memory_gb": 24.0, "os": "Linux"},
                 "libraries": {"python": "3.11", "sudachipy": "0.7.0"}, "load": {"start": 0.1, "end": 0.2}},
        "sections": {
            "analyzer": {"title": "Analyzer throughput", "seconds": 9.0, "load": [0.1, 0.2],
                         "rows": [{"name": "JapaneseAnalyzer", "value": "250,000 chars/s", "detail": "x | y"}],
                         "targets": [{"name": "analyzer ratio", "target": ">= 0.9x", "value": "1.05x", "met": True,
                                      "why": ""}],
                         "notes": ["a note"]},
            "serving": {"title": "Serving", "seconds": 50.0,
                        "rows": [{"name": "bentoml: /tag 16 clients", "value": "300 texts/s", "detail": ""}],
                        "targets": [{"name": "16 clients", "target": ">= 700 texts/s", "value": "300 texts/s",
                                     "met": False, "why": "2 cores shared by client and server"}],
                        "notes": []},
            "corpus": {"title": "Corpus tagging", "error": "Traceback...\nRuntimeError: boom"},
        },
    }


def test_render_table_and_markdown():
    res = fake_results()
    table = render_table(res)
    assert "250,000 chars/s" in table and "MISSED" in table and "met" in table and "FAILED" in table
    md = render_markdown(res)
    assert "quick run" in md and "Test CPU" in md and "sudachipy 0.7.0" in md
    assert "**missed**" in md and "2 cores shared by client and server" in md
    assert "x \\| y" in md  # pipes in cells are escaped
    assert "This section failed" in md
    assert [t["met"] for t in all_targets(res)] == [True, False]


def test_sections_argument():
    from bench.__main__ import parse_args

    assert parse_args(["--sections", "serving,analyzer"]).section_list == ["analyzer", "serving"]
    with pytest.raises(SystemExit):
        parse_args(["--sections", "nope"])


def test_nested_weight_diagnostic_chooses_inner_councils_that_keep_a_training_side():
    """The nested weight diagnostic (docs/MODEL.md, eighteenth session) chooses on councils other than the held-out
    one; a council whose absence would leave almost nothing to train on is not one of them, and small councils are
    used only when no council with enough scored labels is left."""
    from bench.diagnostics.nested_weight import inner_councils

    big_a, big_b = np.arange(0, 600), np.arange(600, 900)
    small = {n: np.arange(900 + 10 * k, 910 + 10 * k) for k, n in enumerate(["s1", "s2"])}
    everything = np.arange(0, 920)
    splits = {"A": (np.setdiff1d(everything, big_a), big_a), "B": (np.setdiff1d(everything, big_b), big_b),
              **{n: (np.setdiff1d(everything, te), te) for n, te in small.items()}}
    # held-out A trains on B and the small councils: without B only 20 labels are left, so the small ones choose
    assert inner_councils(splits, "A", min_train=100, min_scored=100) == ["s1", "s2"]
    # a small council trains on A, B and the other: the big ones have the scored labels, so they alone choose
    assert inner_councils(splits, "s1", min_train=100, min_scored=100) == ["A", "B"]
    assert "A" not in inner_councils(splits, "A", min_train=1, min_scored=1)
