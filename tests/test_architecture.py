"""The dependency rules of CONTRIBUTING.md, checked on the source: bot → index → articles, one way,
and no import cycle anywhere.

The graph is read with `ast`, not by importing, so it sees every import: at the top of a module,
inside a function (the usual hiding place of a cycle), and under `TYPE_CHECKING` (a cycle in the
types is still two modules that cannot be understood one without the other).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

#: Top-level folders and the package each one is installed as (pyproject's `package-dir`).
FOLDERS = {"articles": "bantin.articles", "index": "bantin.index", "bot": "bantin.bot"}


def modules() -> dict[str, Path]:
    """Every module of the three packages, by its dotted name."""
    found: dict[str, Path] = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def imported(path: Path, name: str) -> Iterator[str]:
    """The modules `path` (module `name`) imports, anywhere in its body, as absolute dotted names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`


def graph() -> dict[str, set[str]]:
    """Module → the bantin modules it imports (a name that is not a module, e.g. a class, drops out)."""
    known = modules()
    return {name: {other for other in imported(path, name) if other in known and other != name}
            for name, path in known.items()}


def externals(prefix: str) -> dict[str, set[str]]:
    """Module under `prefix` → the top-level names of everything it imports."""
    return {name: {other.split(".")[0] for other in imported(path, name)}
            for name, path in modules().items() if name.startswith(prefix)}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_graph_sees_function_local_and_relative_imports(tmp_path: Path) -> None:
    """The checker itself: a cycle closed by an import inside a function is still a cycle."""
    (tmp_path / "a.py").write_text("import json\n\ndef f():\n    from bantin.bot import b\n")
    assert set(imported(tmp_path / "a.py", "bantin.bot.a")) >= {"json", "bantin.bot", "bantin.bot.b"}
    (tmp_path / "c.py").write_text("from .d import x\n")
    assert "bantin.bot.search.d" in set(imported(tmp_path / "c.py", "bantin.bot.search.c"))
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_covers_every_package() -> None:
    edges = graph()
    assert {"bantin.bot.cli", "bantin.index.searcher", "bantin.articles.store"} <= set(edges)
    assert "bantin.bot.settings" in edges["bantin.bot.cli"]


def test_no_import_cycle() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or ())


def test_articles_imports_neither_index_nor_bot() -> None:
    bad = {name: sorted(o for o in deps if o.startswith(("bantin.index", "bantin.bot")))
           for name, deps in graph().items() if name.startswith("bantin.articles")}
    assert {name: deps for name, deps in bad.items() if deps} == {}


def test_index_never_imports_the_bot() -> None:
    bad = {name: sorted(o for o in deps if o.startswith("bantin.bot"))
           for name, deps in graph().items() if name.startswith("bantin.index")}
    assert {name: deps for name, deps in bad.items() if deps} == {}


def test_the_bot_never_imports_whoosh() -> None:
    assert {name for name, tops in externals("bantin.bot").items() if "whoosh" in tops} == set()


def test_only_the_telegram_room_uses_telegram_types() -> None:
    """The cores take plain values (the console and the tests drive them without Telegram); outside
    `bot.telegram` only Telegram's error classes may appear, as the senders' failure contract."""
    bad = {
        name: sorted(o for o in imported(path, name)
                     if o.split(".")[0] == "telegram" and not o.startswith("telegram.error"))
        for name, path in modules().items()
        if name.startswith("bantin.") and not name.startswith("bantin.bot.telegram")
    }
    assert {name: deps for name, deps in bad.items() if deps} == {}
