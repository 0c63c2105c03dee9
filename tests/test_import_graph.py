"""No import cycle among the modules of a package: every import statement counts (module level, inside a
function, under ``if TYPE_CHECKING:``), as an edge to the module it names (``from pkg import name``: the
submodule ``pkg.name`` when there is one, else ``pkg``); the implicit import of parent packages does not."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("emulator", "demo")


def _modules(packages: tuple[str, ...]) -> dict[str, Path]:
    found = {}
    for path in sorted(p for package in packages for p in (ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the modules (of ``packages``) it imports."""
    modules = _modules(packages)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                for alias in node.names:
                    if f"{target}.{alias.name}" in modules:
                        edges.add(f"{target}.{alias.name}")
                    elif target in modules:
                        edges.add(target)
        graph[name] = edges - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph(PACKAGES)
    assert {m.split(".")[0] for m in graph} == set(PACKAGES)
    assert cycles(graph) == []


def test_the_emulator_never_imports_the_demo() -> None:
    graph = import_graph(PACKAGES)
    assert [f"{m} -> {t}" for m, targets in graph.items() if m.split(".")[0] == "emulator"
            for t in targets if t.split(".")[0] == "demo"] == []


def test_a_cycle_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
