"""The packages' import graph (issue 15): no circle between modules, lazy imports included, and
no arrow from a lower package to a higher one. Layers, lowest first: the engine, the transport,
market data, the daemon, surveillance, the benchmarks, the web console, the command line, and above them the
repository tools,
which are never installed and so must never be imported by what is."""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNTIME = ["matching", "zmqio", "feeds", "gateway", "exchange", "surveillance", "bench", "web", "chuanyu"]
TOOLS = "tools"
LAYERS = RUNTIME + [TOOLS]
_PYX_IMPORT = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+c?import\s+([\w, ]+)|c?import\s+([\w.]+))", re.M)


def modules() -> dict[str, Path]:
    found = {}
    for pkg in LAYERS:
        for path in sorted((REPO / pkg).iterdir()):
            if path.suffix in (".py", ".pyx"):
                found[pkg if path.stem == "__init__" else f"{pkg}.{path.stem}"] = path
    return found


def _imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import in the file, lazy ones too."""
    package = name if path.stem == "__init__" else name.rsplit(".", 1)[0]
    out = []
    if path.suffix == ".pyx":
        for frm, names, plain in _PYX_IMPORT.findall(path.read_text()):
            if plain:
                out.append((plain, []))
            else:
                dots = len(frm) - len(frm.lstrip("."))
                base = package if dots else ""
                out.append(((base + "." + frm.lstrip(".")).strip(".") if dots else frm,
                            [n.strip().split(" as ")[0] for n in names.split(",")]))
        return out
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                target = (package + "." + target).strip(".")
            out.append((target, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names)
    return out


def graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (``from pkg import module`` included)."""
    mods = modules()
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        targets = set()
        for target, names in _imports(name, path):
            for candidate in [f"{target}.{n}" for n in names] + [target]:
                parts = candidate.split(".")
                while parts and ".".join(parts) not in mods:
                    parts.pop()
                if parts:
                    targets.add(".".join(parts))
                    if candidate != target:
                        break
        edges[name] = targets - {name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def runtime_imports_of_tools(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(runtime module, tools module) for every import of the tools from an installed package."""
    return sorted((m, t) for m, targets in edges.items() for t in targets
                  if m.split(".")[0] != TOOLS and t.split(".")[0] == TOOLS)


def test_the_checker_sees_the_imports_it_must():
    edges = graph()
    assert "gateway.protocol" in edges["tools.protocol_doc"]         # the tools are walked too
    assert "matching._engine" in edges["matching.engine"]             # a relative import of a .pyx
    assert "matching.commands" in edges["matching.reference"]         # from . import commands
    assert "matching.dtypes" in edges["feeds._encode"]                # an import inside a .pyx
    assert "chuanyu.cli_gateway" in edges["chuanyu.cli"]              # a lazy import in a function
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert runtime_imports_of_tools({"gateway.protocol": {"matching", "tools.protocol_doc"},
                                     "tools.protocol_doc": {"gateway.protocol"}}) == [
        ("gateway.protocol", "tools.protocol_doc")]


def test_the_layers_are_the_installed_packages_and_the_tools_are_not_one():
    with open(REPO / "pyproject.toml", "rb") as f:
        installed = tomllib.load(f)["tool"]["setuptools"]["packages"]
    assert sorted(installed) == sorted(RUNTIME)
    assert TOOLS not in installed


def test_no_installed_package_imports_the_tools():
    assert runtime_imports_of_tools(graph()) == []


def test_no_module_imports_itself_in_a_circle():
    assert cycles(graph()) == []


def test_no_package_imports_a_higher_one():
    rank = {pkg: n for n, pkg in enumerate(LAYERS)}
    upward = sorted((m, t) for m, targets in graph().items() for t in targets
                    if rank[t.split(".")[0]] > rank[m.split(".")[0]])
    assert upward == []
