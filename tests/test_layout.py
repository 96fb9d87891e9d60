"""The layering rule (docs/architecture.md, "Code layout"): each layer imports only layers below it.

``fusion`` and ``ingest`` are the core; ``services`` sits on them; ``api`` on ``services``; ``mfc``,
the composition root (the command and the deployed processes), on top.  Every import is read with
``ast``, at any depth (an import inside a function counts), relative ones resolved.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {  # package → the top-level packages it must not import
    "fusion": {"services", "api", "mfc"},
    "ingest": {"services", "api", "mfc"},
    "services": {"api", "mfc"},
    "api": {"mfc"},
}


def imported_modules(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, a module of ``package``
    (its dotted name, for resolving relative imports)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            else:
                found.append((node.lineno, node.module or ""))
    return found


def violations(top: str, root: Path = ROOT) -> list[str]:
    out = []
    for path in sorted((root / top).rglob("*.py")):
        rel = path.relative_to(root)
        parts = rel.with_suffix("").parts
        package = ".".join(parts if path.name == "__init__.py" else parts[:-1]).removesuffix(".__init__")
        for line, module in imported_modules(path, package):
            if module.split(".")[0] in FORBIDDEN[top]:
                out.append(f"{rel}:{line} imports {module}")
    return out


@pytest.mark.parametrize("top", sorted(FORBIDDEN))
def test_no_layer_imports_a_layer_above_it(top):
    assert violations(top) == []


def test_the_check_sees_imports_at_any_depth_and_relative_ones(tmp_path):
    pkg = tmp_path / "services" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "services" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "ok.py").write_text("from services.bus import topics\nfrom . import sibling\nimport fusion.model\n")
    (pkg / "bad.py").write_text("import json\n\n\ndef f():\n    from api.app import create_app\n"
                                "    import mfc.cli as c\n")
    assert violations("services", tmp_path) == ["services/sub/bad.py:5 imports api.app",
                                                "services/sub/bad.py:6 imports mfc.cli"]
    assert [m for _, m in imported_modules(pkg / "ok.py", "services.sub")] == ["services.bus", "services.sub",
                                                                                "fusion.model"]
