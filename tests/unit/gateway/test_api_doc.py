"""docs/API.md names every public method of the client libraries with its real signature."""
import ast
import inspect
import re
from enum import Enum
from pathlib import Path

import pytest

from feeds.book import LocalBook
from feeds.client import AsyncFeedClient, FeedClient
from feeds.dropcopy import DropCopyClient
from gateway import client as gclient
from exchange.admin import AdminClient

DOC = Path(__file__).resolve().parents[3] / "docs" / "API.md"
CLASSES = {c.__name__: c for c in (gclient.Client, gclient.AsyncClient, AdminClient, FeedClient, AsyncFeedClient,
                                   LocalBook, DropCopyClient)}
FUNCTIONS = {f.__name__: f for f in (gclient.load_keys, gclient.orders, gclient.decode_reports, gclient.as_reports,
                                     gclient.login_frame)}
# documented as "coroutines with the signatures of" their blocking twin's
TWINS = {gclient.AsyncClient: gclient.Client, AsyncFeedClient: FeedClient}
_HEADING = re.compile(r"^#### `(?:(\w+)\.)?(\w+)\((.*)\)(?: -> [^`]+)?`$", re.MULTILINE)


def _headings():
    return [m.groups() for m in _HEADING.finditer(DOC.read_text(encoding="utf-8"))]


def _public_methods(cls) -> set:
    return {n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")}


def _default_source(value) -> str:
    """A default as the document writes it: an enum member by its qualified name."""
    if isinstance(value, Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)


def _same_expr(a: str, b: str) -> bool:
    return ast.dump(ast.parse(a, mode="eval")) == ast.dump(ast.parse(b, mode="eval"))


def _documented(params: str) -> list:
    args = ast.parse(f"def f({params}): pass").body[0].args
    defaults = [None] * (len(args.args) - len(args.defaults)) + [ast.unparse(d) for d in args.defaults]
    out = [(a.arg, d) for a, d in zip(args.args, defaults)]
    if args.kwarg:
        out.append(("**" + args.kwarg.arg, None))
    return out


def _actual(obj) -> list:
    out = []
    for p in inspect.signature(obj).parameters.values():
        if p.name == "self":
            continue
        if p.kind is p.VAR_KEYWORD:
            out.append(("**" + p.name, None))
        else:
            out.append((p.name, None if p.default is p.empty else _default_source(p.default)))
    return out


def _target(owner, name):
    if owner is None:
        return CLASSES[name].__init__ if name in CLASSES else FUNCTIONS[name]
    return getattr(CLASSES[owner], name)


@pytest.mark.parametrize("owner, name, params", _headings(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_documented_signature_is_the_codes(owner, name, params):
    doc, real = _documented(params), _actual(_target(owner, name))
    assert [n for n, _ in doc] == [n for n, _ in real], (owner, name)
    for (n, d), (_, r) in zip(doc, real):
        assert (d is None) == (r is None) and (d is None or _same_expr(d, r)), (owner, name, n, d, r)


def test_every_public_method_and_class_is_documented():
    documented = {(owner, name) for owner, name, _ in _headings()}
    for cname, cls in CLASSES.items():
        if cls in TWINS:
            continue
        if cls is not LocalBook:
            assert (None, cname) in documented, cname
        missing = {m for m in _public_methods(cls) if (cname, m) not in documented}
        assert not missing, (cname, missing)
    assert {(None, f) for f in FUNCTIONS} <= documented


@pytest.mark.parametrize("cls", list(TWINS), ids=lambda c: c.__name__)
def test_the_async_twins_are_as_documented(cls):
    """"Coroutines, with the signatures ... of X's: `a`, `b`."; close() plain; nothing else."""
    twin = TWINS[cls]
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf"Coroutines, with the signatures, results and errors of `{twin.__name__}`'s:(.*?)\.\s", text,
                  re.DOTALL)
    listed = set(re.findall(r"`(\w+)`", m.group(1)))
    assert f"#### `{cls.__name__}(" in text
    assert _public_methods(cls) == listed | {"close"}
    assert not inspect.iscoroutinefunction(cls.close)
    for name in listed:
        assert inspect.iscoroutinefunction(getattr(cls, name)), name
        assert _actual(getattr(cls, name)) == _actual(getattr(twin, name)), name
    assert _actual(cls.__init__) == _actual(twin.__init__)


def test_the_examples_are_python():
    for n, code in enumerate(re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)):
        ast.parse(code, filename=f"API.md example {n + 1}")
