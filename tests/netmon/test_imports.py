"""The import graph of netmon/, collectors/ and alerts/ has no circle.

Step: the whole flow's layout. Every ``import`` in the three packages counts,
at module level or inside a function, except those under ``if TYPE_CHECKING:``
(annotations only, never run). Plugins reach config through the registry
(netmon.plugins), so config imports no plugin, and collectors/ and alerts/
never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("netmon", "collectors", "alerts")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, known: set[str],
             type_checking: bool = False) -> set[str]:
    out: set[str] = set()

    def target(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node) and not type_checking:
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                hit = target(alias.name)
                if hit:
                    out.add(hit)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                hit = target(f"{base}.{alias.name}") or target(base)
                if hit:
                    out.add(hit)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    out.discard(module)
    return out


def import_graph(*, type_checking: bool = False) -> dict[str, set[str]]:
    """Module -> the modules it imports; with ``type_checking`` also those under
    ``if TYPE_CHECKING:``."""
    modules = _modules()
    known = set(modules)
    return {
        name: _imports(ast.parse(path.read_text()), name, path.name == "__init__.py", known,
                       type_checking)
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = dfs(node)
            if found:
                return found
    return None


def test_no_import_circle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_no_circle_even_through_annotations() -> None:
    """Stricter than the rule: not even ``TYPE_CHECKING`` imports close a circle, so a
    module can be read (and moved) without the one it annotates with."""
    cycle = find_cycle(import_graph(type_checking=True))
    assert cycle is None, "import circle through TYPE_CHECKING: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_config_imports_no_plugin() -> None:
    graph = import_graph()
    plugin_modules = [m for m in graph["netmon.config"]
                      if m.split(".")[0] in ("collectors", "alerts")
                      or m.startswith(("netmon.sinks", "netmon.httpapi"))]
    assert plugin_modules == []


def test_collectors_and_alerts_never_import_each_other() -> None:
    for module, imported in import_graph().items():
        top = module.split(".")[0]
        other = {"collectors": "alerts", "alerts": "collectors"}.get(top)
        if other:
            assert not [m for m in imported if m.split(".")[0] == other], module
