"""The rule modules stay plain Python: no Django, no models, no services (STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "cogov"
PURE = ["cases/workflow.py", "cases/routing.py", "cases/deadlines.py", "cases/chain.py", "geo/locate.py",
        "people/roles.py", "errors.py", "clock.py", "demo/geography.py", "intake/text.py",
        "people/rosters.py", "cases/suggest.py", "web/charts.py", "insight/duplicates.py",
        "insight/hotspots.py"]


@pytest.mark.parametrize("path", PURE)
def test_rule_module_imports_no_framework(path):
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    bad = [n for n in names if n.startswith("django") or n.split(".")[-1] in ("models", "services", "api",
                                                                               "views", "selectors")]
    assert not bad, f"{path} imports {bad}"
