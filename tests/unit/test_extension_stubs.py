"""Every compiled module has a ``.pyi`` stub beside its ``.pyx`` (STYLE 18), naming exactly what
the built module defines, and shipped with its package.

Type checkers cannot see into a compiled module, so a missing stub hides the module's whole
surface and a stale one reports calls that work as errors, or the reverse. The ``.pyx`` files
are found by walking the installed packages, so a new extension is held to this without
editing the test.

What a module defines is its public names less those its ``.pyx`` binds by importing them
(``np``, dtypes, helpers from sibling modules): those belong to other modules, and a stub
names them through its own imports, which are not compared either.
"""
from __future__ import annotations

import ast
import fnmatch
import importlib
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
with open(REPO / "pyproject.toml", "rb") as _f:
    _SETUPTOOLS = tomllib.load(_f)["tool"]["setuptools"]
PACKAGES = _SETUPTOOLS["packages"]
PYX = sorted(path for pkg in PACKAGES for path in (REPO / pkg).rglob("*.pyx"))
# Only module-level Python imports bind a module attribute; `cimport` lines never do, and
# "\s+import" keeps `from x cimport y` out.
_PY_IMPORT = re.compile(r"^(?:from\s+\S+\s+import\s+(?P<names>\([^)]*\)|[^\n]+)|import\s+(?P<modules>[^\n]+))",
                        re.M)


def _module_name(pyx: Path) -> str:
    return ".".join(pyx.relative_to(REPO).with_suffix("").parts)


def imported_names(source: str) -> set[str]:
    """Names a ``.pyx`` binds at module level by a Python import.

    >>> sorted(imported_names("import numpy as np\\nimport os.path\\ncimport cython\\n"
    ...                       "from .x import (a,\\n  b as c)\\nfrom y cimport z\\n"))
    ['a', 'c', 'np', 'os']
    """
    found = set()
    for m in _PY_IMPORT.finditer(source.replace("\\\n", " ")):
        clauses = (m["names"] or m["modules"]).split("#")[0].strip("() \n").split(",")
        for clause in filter(None, (c.strip() for c in clauses)):
            name, _, alias = clause.partition(" as ")
            found.add(alias.strip() or name.strip().split(".")[0])
    return found


def _public(names) -> set[str]:
    return {n for n in names if not n.startswith("_")}


def _defined(body: list[ast.stmt]) -> set[str]:
    """Names a stub's module or class body defines: defs, classes, assigned and annotated names."""
    names = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                elts = target.elts if isinstance(target, ast.Tuple) else [target]
                names.update(e.id for e in elts if isinstance(e, ast.Name))
    return names


def _module_and_stub(pyx: Path):
    stub = pyx.with_suffix(".pyi")
    assert stub.exists(), f"{stub.relative_to(REPO)} is missing: every compiled module needs a stub"
    module = importlib.import_module(_module_name(pyx))
    defined = _public(vars(module)) - imported_names(pyx.read_text(encoding="utf-8"))
    return module, defined, ast.parse(stub.read_text(encoding="utf-8"))


def test_the_walk_finds_the_compiled_modules():
    assert {"matching._engine", "feeds._encode"} <= {_module_name(p) for p in PYX}


@pytest.mark.parametrize("pyx", PYX, ids=_module_name)
def test_the_stub_names_what_the_module_defines(pyx):
    _, defined, stub = _module_and_stub(pyx)
    declared = _public(_defined(stub.body))
    assert (sorted(defined - declared), sorted(declared - defined)) == ([], []), \
        "(defined by the module but not in its stub, in the stub but not defined by the module)"


@pytest.mark.parametrize("pyx", PYX, ids=_module_name)
def test_the_stub_classes_name_their_members(pyx):
    module, defined, stub = _module_and_stub(pyx)
    stub_classes = {node.name: node for node in stub.body if isinstance(node, ast.ClassDef)}
    stale = {}
    for name in sorted(defined & set(stub_classes)):
        cls = getattr(module, name)
        if not isinstance(cls, type):
            continue
        members, declared = _public(vars(cls)), _public(_defined(stub_classes[name].body))
        if members != declared:
            stale[name] = (sorted(members - declared), sorted(declared - members))
    assert stale == {}, "class: (members missing from the stub, stub members the class lacks)"


@pytest.mark.parametrize("pyx", PYX, ids=_module_name)
def test_the_stub_is_installed_with_its_package(pyx):
    package = _module_name(pyx).split(".")[0]
    patterns = _SETUPTOOLS.get("package-data", {}).get(package, [])
    assert any(fnmatch.fnmatch(pyx.with_suffix(".pyi").name, p) for p in patterns), \
        f"[tool.setuptools.package-data] {package} does not include its .pyi stubs"
