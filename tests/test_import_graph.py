"""The import graph of the project's own packages has no cycle: a module never depends, however indirectly,
on a module that depends on it. Every import statement counts (module level, inside functions, and under
``TYPE_CHECKING``): a lazy import that dodges a cycle at run time is still a cycle for a reader.

An edge goes from a module to the module it names (for ``from pkg import name``, the submodule ``pkg.name``
when that is a module, else ``pkg``); the implicit import of a parent package does not count. Also here:
nothing outside ``shared/cli/`` imports the CLI (services return values; only the CLI prints)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("shared", "emulator", "demo", "functions", "bench")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
            if ".venv" not in p.parts and "node_modules" not in p.parts}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports, with relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read_from_the_tree() -> None:
    edges = graph()
    assert "shared.enrollment.service" in edges["functions.vm_tags_changed"]
    assert "shared.executor" in edges["shared.enrollment.service"]
    assert edges["shared.ids"] <= {"shared.errors"}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package: str) -> None:
    edges = graph()
    inside = {m: {t for t in targets if t.split(".")[0] == package} for m, targets in edges.items()
              if m.split(".")[0] == package}
    assert cycles(inside) == []


def test_no_import_cycle_across_packages() -> None:
    assert cycles(graph()) == []


def test_only_the_cli_imports_the_cli() -> None:
    importers = sorted(m for m, targets in graph().items()
                       if m.startswith("shared.") and not m.startswith("shared.cli")
                       and any(t == "shared.cli" or t.startswith("shared.cli.") for t in targets))
    assert importers == []
