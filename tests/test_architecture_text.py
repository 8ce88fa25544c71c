"""The layering the text path relies on: `bot` never imports Whoosh (topic matching and
highlighting live in `index`), and `index` never imports from `bot` (it returns plain text and
match positions; HTML is made by the templates). Checked on the source, function-local and
`importlib` imports included, so a cycle or a leak cannot hide inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, wherever the import statement is (top level or in a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
        elif isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def _is_import_module(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or \
        (isinstance(func, ast.Name) and func.id in {"import_module", "__import__"})


def sources(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    return files


def offending(package: str, banned: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in sources(package):
        bad = sorted(m for m in imported_modules(path) if any(m == b or m.startswith(b + ".") for b in banned))
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_bot_never_imports_whoosh() -> None:
    assert offending("bot", ("whoosh",)) == {}


def test_index_never_imports_from_bot() -> None:
    assert offending("index", ("bantin.bot", "bot")) == {}


@pytest.mark.parametrize("code", ["import whoosh.query", "from whoosh import index",
                                  "def f():\n    from whoosh.query import Term\n",
                                  "import importlib\nimportlib.import_module('whoosh.fields')"])
def test_the_check_sees_every_kind_of_import(tmp_path: Path, code: str) -> None:
    path = tmp_path / "m.py"
    path.write_text(code, encoding="utf-8")
    assert any(m.startswith("whoosh") for m in imported_modules(path))
