"""The house rules of the layout, as tests: small modules, small functions, Locust and Hypothesis only
where they must be, and a package that imports quickly.

Sizes are counted in source lines; a data table (a literal assigned at module level) does not count
towards its function or module, because splitting a table only hides it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "harness"
MODULES = sorted(PACKAGE.rglob("*.py"))
MODULE_LIMIT = 400
FUNCTION_LIMIT = 60


def _table_lines(tree: ast.Module) -> int:
    """Lines taken by module-level literals (dicts, lists, tuples, sets of constants and such)."""
    literals = (ast.Dict, ast.List, ast.Tuple, ast.Set)
    total = 0
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, literals) and node.end_lineno is not None:
            total += node.end_lineno - node.lineno + 1
    return total


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_module_is_over_the_limit(path: Path) -> None:
    tree = ast.parse(path.read_text())
    lines = len(path.read_text().splitlines()) - _table_lines(tree)
    assert lines <= MODULE_LIMIT, f"{path.name} has {lines} lines besides its data tables; split it by job"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_function_is_over_the_limit(path: Path) -> None:
    tree = ast.parse(path.read_text())
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > FUNCTION_LIMIT]
    assert not long, f"{path.name}: {', '.join(long)}"


LOCUST_IMPORTERS = {"harness/load/user.py", "harness/load/openmodel.py", "harness/load/sender.py",
                    "harness/load/distributed.py"}  # a worker's files to the master over Locust's messaging
"""Locust monkey-patches the standard library with gevent on import: only the Locust glue may import it."""


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_locust_glue_imports_locust_or_gevent() -> None:
    importers = {str(path.relative_to(PACKAGE.parent)) for path in MODULES
                 if _imported_roots(path) & {"locust", "gevent"}}
    assert importers == LOCUST_IMPORTERS
