"""The notifier's modules import each other at the top, in one direction.

An import hidden inside a function (or under TYPE_CHECKING) is how a cycle or an upward
dependency goes unnoticed: the module loads, and the problem shows only when that function
first runs. Only `AppConfig.ready()` may import inside a function (Django's registry must be
ready first).
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("statuspage", "incidents", "notifier")


def _notifier_modules() -> list[Path]:
    return [
        path for path in sorted((ROOT / "notifier").rglob("*.py")) if "migrations" not in path.parts
    ]


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    if isinstance(node, ast.ImportFrom):
        return ["notifier (relative)"]
    return []


def _hidden_imports(path: Path) -> list[str]:
    """First-party imports not at a module's top level, outside AppConfig.ready()."""
    tree = ast.parse(path.read_text())
    found = []
    for outer in ast.walk(tree):
        body_owner = isinstance(outer, ast.FunctionDef | ast.AsyncFunctionDef | ast.If)
        if not body_owner or (isinstance(outer, ast.FunctionDef) and outer.name == "ready"):
            continue
        is_type_checking = isinstance(outer, ast.If) and "TYPE_CHECKING" in ast.unparse(outer.test)
        if isinstance(outer, ast.If) and not is_type_checking:
            continue
        for node in ast.walk(outer):
            for name in _imported(node):
                if name.split(".")[0] in FIRST_PARTY or name.startswith("notifier"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    return found


def test_no_notifier_module_imports_first_party_code_inside_a_function():
    hidden = [line for path in _notifier_modules() for line in _hidden_imports(path)]
    assert hidden == []


def test_the_notifier_modules_import_each_other_without_a_cycle():
    graph = grimp.build_graph(*FIRST_PARTY, cache_dir=None)
    cycles = [
        (module, imported)
        for module in sorted(m for m in graph.modules if m.startswith("notifier"))
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith(FIRST_PARTY)
        and graph.chain_exists(importer=imported, imported=module)
    ]
    assert cycles == []
