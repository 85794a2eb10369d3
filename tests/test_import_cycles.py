"""No import cycles in crldgen/, and the layers import one way (issue 18).

A static scan of every ``import``/``from ... import`` in the package, module-level and
inside functions alike (a lazy import is still a dependency). Upward calls go through
:mod:`crldgen._hooks`, whose providers are registered in ``crldgen/__init__.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "crldgen"

#: the main layers, lowest first: a module may import only from its own layer or a lower one
#: (matched in this order). The file format of generated modules -- cache keys and the header,
#: written by the generator and checked by the loader -- sits below them all: it imports nothing
#: but ``crldgen.errors`` and ``crldgen._version``, and codegen imports it to write what the loader reads.
#: The loader installs numba's typing memo before it executes a module (typing_memo imports no crldgen module).
LAYERS = [
    ["crldgen.runtime.keys", "crldgen.runtime.loader", "crldgen.runtime.typing_memo", "crldgen.runtime.inner",
     "crldgen.runtime.notice"],
    ["crldgen.game", "crldgen.learners"],
    ["crldgen.symbolic"],
    ["crldgen.codegen"],
    ["crldgen.runtime"],
    ["crldgen.iterate", "crldgen.analysis"],
    ["crldgen.plot"],
    ["crldgen.cli"],
]
#: modules on top of everything (nothing in LAYERS may import them)
TOP = ["crldgen.data", "crldgen.scans", "crldgen.interactive"]


def _modname(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_modname(p): p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts}


def _targets(mods: dict[str, Path], current: str, node: ast.stmt) -> list[str]:
    """Names an import statement refers to (a module, or ``package.name`` when that is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = current.split(".")
    if node.level:
        if mods[current].name != "__init__.py":
            base = base[:-1]
        if node.level > 1:
            base = base[:len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    out = [prefix]
    out += [f"{prefix}.{alias.name}" for alias in node.names if f"{prefix}.{alias.name}" in mods]
    return out


def import_graph() -> dict[str, set[str]]:
    """``{module: crldgen modules it imports}``; imports of a module's own parent packages are not edges
    (Python runs the parents first anyway), and the package root ``crldgen`` imports everything."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(mods, name, node):
                    while target and target not in mods:
                        target = target.rpartition(".")[0]
                    if target and target.startswith("crldgen") and target != name \
                            and not name.startswith(target + "."):
                        deps.add(target)
        graph[name] = deps
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10000))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(old)
    return out


def _layer(module: str) -> int | None:
    for k, group in enumerate(LAYERS):
        if any(module == g or module.startswith(g + ".") for g in group):
            return k
    if any(module == t or module.startswith(t + ".") for t in TOP):
        return len(LAYERS)
    return None


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_scan_sees_the_package(graph):
    # the scan must find the modules and their edges, or the tests below pass vacuously
    assert {"crldgen.iterate", "crldgen.runtime.dynamics", "crldgen.symbolic.model", "crldgen.compiler",
            "crldgen.plot"} <= set(graph)
    assert "crldgen.runtime.dynamics" in graph["crldgen.iterate"]
    assert "crldgen.symbolic.model" in graph["crldgen.symbolic.partial"]
    assert "crldgen.iterate" in graph["crldgen"]  # the package root registers the upward providers


def test_strongly_connected_finds_a_cycle():
    # the cycle detector itself, on a graph with a known cycle (a -> b -> c -> a) and a tail (c -> d)
    toy = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert strongly_connected(toy) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles(graph):
    cycles = strongly_connected(graph)
    detail = "; ".join(f"{c}: " + ", ".join(f"{a} -> {sorted(d for d in graph[a] if d in c)}" for a in c)
                       for c in cycles)
    assert not cycles, f"import cycles in crldgen/: {detail}"


def test_layers_import_downward_only(graph):
    upward = []
    for module, deps in graph.items():
        here = _layer(module)
        if here is None:
            continue
        for dep in deps:
            there = _layer(dep)
            if there is not None and there > here:
                upward.append(f"{module} -> {dep}")
    assert not upward, "imports from a lower layer into a higher one: " + ", ".join(sorted(upward))


def test_layer_check_catches_an_upward_import():
    assert _layer("crldgen.runtime.dynamics") < _layer("crldgen.iterate") < _layer("crldgen.plot")
    assert _layer("crldgen.symbolic.model") < _layer("crldgen.codegen.generator") < _layer("crldgen.cli")
    assert _layer("crldgen.data") > _layer("crldgen.cli")
    assert _layer("crldgen.runtime.loader") < _layer("crldgen.codegen.generator") < _layer("crldgen.runtime.dynamics")
