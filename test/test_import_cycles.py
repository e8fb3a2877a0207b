"""No import cycles among bms_ros modules (issue 12): a module graph from the ast of every file.

Edges are the imports a module runs when it is imported: module level, including those under ``if``/``try``
but not inside functions (lazy imports). ``from pkg import name`` is an edge to ``pkg`` (its ``__init__`` runs,
possibly half-initialised) and to ``pkg.name`` when that is a module. Imports under ``if TYPE_CHECKING:`` never run;
they are left out of the runtime graph and kept in the typing graph, which must be acyclic for ``afe`` too (the
chip emulators and the fault injector must not know each other even for the type checker).

Found when this test was written (2026-12): no runtime cycle anywhere in bms_ros once ``afe/bq769x0/__init__``
stopped importing its driver eagerly; in the typing graph ``core.protection`` <-> ``core.measurement`` (core, not
covered here).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "bms_ros"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(f): f for f in sorted(PKG.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(body: list[ast.stmt], typing: bool):
    """Import statements that run at import time (``typing``: also those under ``if TYPE_CHECKING``)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if _is_type_checking(node.test):
                if typing:
                    yield from _module_level_imports(node.body, typing)
                yield from _module_level_imports(node.orelse, typing)
            else:
                yield from _module_level_imports(node.body, typing)
                yield from _module_level_imports(node.orelse, typing)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _module_level_imports(block, typing)
        elif isinstance(node, (ast.With, ast.For, ast.While)):
            yield from _module_level_imports(node.body, typing)


def imports_of(name: str, typing: bool = False) -> set[str]:
    path = MODULES[name]
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in _module_level_imports(ast.parse(path.read_text(), str(path)).body, typing):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        out.update(t for t in targets if t in MODULES and t != name)
    return out


def graph(typing: bool = False) -> dict[str, set[str]]:
    return {m: imports_of(m, typing) for m in MODULES}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g[v]):
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
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_graph_sees_the_known_edges():
    g = graph()
    assert "bms_ros.afe.sim.faults" in g["bms_ros.afe.bq769x0.emul"]
    assert "bms_ros.afe.bq769x0.interface" in g["bms_ros.afe.bq769x0.driver"]
    assert "bms_ros.afe.sim.pack_model" not in g["bms_ros.afe.sim.faults"]  # TYPE_CHECKING only
    assert "bms_ros.afe.sim.pack_model" in graph(typing=True)["bms_ros.afe.sim.faults"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_bms_ros_modules():
    assert cycles(graph()) == []


@pytest.mark.parametrize("typing", [False, True], ids=["runtime", "with TYPE_CHECKING"])
def test_no_import_cycle_in_afe(typing):
    """The typing graph leaves out a package ``__init__``'s TYPE_CHECKING re-exports of its own modules."""
    g = graph(typing)
    afe = {
        m: {t for t in ts if t.startswith("bms_ros.afe") and (not typing or not is_own_reexport(m, t))}
        for m, ts in g.items()
        if m.startswith("bms_ros.afe")
    }
    assert cycles(afe) == []


def is_own_reexport(importer: str, target: str) -> bool:
    return MODULES[importer].name == "__init__.py" and target.startswith(importer + ".")


def test_chip_emulators_and_fault_injector_do_not_import_each_other_back():
    g = graph(typing=True)
    for emul in ("bms_ros.afe.bq769x0.emul", "bms_ros.afe.bq769x2.emul", "bms_ros.afe.bq769x0.emul_bus"):
        assert emul not in g["bms_ros.afe.sim.faults"]


def test_importing_the_afe_package_loads_nothing_else():
    import subprocess
    import sys

    code = (
        "import sys, bms_ros.afe, bms_ros.afe.bq769x0.registers\n"
        "print(sorted(m for m in sys.modules if m.startswith('bms_ros') or m == 'smbus2'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(out) == ["bms_ros", "bms_ros.afe", "bms_ros.afe.bq769x0", "bms_ros.afe.bq769x0.registers"]
