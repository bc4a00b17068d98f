"""Eleventh session: the request guard is its own module (serve/guard.py)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_guard_imports_nothing_of_the_project():
    """serve.service imports serve.guard: a guard importing the service (or train) back would be a cycle, and the
    service's rule is that it reaches train only through train.inference."""
    tree = ast.parse((ROOT / "serve" / "guard.py").read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    relative = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0]
    assert not imported & {"train", "serve"} and not relative
