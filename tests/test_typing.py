"""Type information: the package passes ``mypy --strict`` (configured in
pyproject.toml) and the stub of the C extension, pcapkit_tcpflow/_core.pyi,
matches the module (``mypy.stubtest``)."""
from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUB = os.path.join(ROOT, 'pcapkit_tcpflow', '_core.pyi')
ALLOWLIST = os.path.join(ROOT, 'pcapkit_tcpflow', '_core_stubtest_allowlist.txt')


def run_mypy_module(*args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec('mypy') is None:
        pytest.fail('mypy is not installed; it is in the test extra: '
                    'pip install -e ".[test]" (or pip install mypy pandas-stubs)')
    return subprocess.run([sys.executable, '-m', *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)


def test_mypy_strict_is_clean():
    proc = run_mypy_module('mypy', '--strict', 'pcapkit_tcpflow')
    assert proc.returncode == 0, \
        f'mypy --strict pcapkit_tcpflow failed:\n{proc.stdout}{proc.stderr}'


def test_stub_matches_the_extension_module():
    # stubtest reads no configuration file unless told; the package's
    # optional untyped imports (tqdm, pyarrow, dictdumper) need pyproject's.
    allowlist = ['--allowlist', ALLOWLIST] if os.path.exists(ALLOWLIST) else []
    proc = run_mypy_module('mypy.stubtest', '--mypy-config-file', 'pyproject.toml', *allowlist,
                           'pcapkit_tcpflow._core')
    assert proc.returncode == 0, \
        f'stubtest pcapkit_tcpflow._core failed:\n{proc.stdout}{proc.stderr}'


def allowlisted() -> list[str]:
    if not os.path.exists(ALLOWLIST):
        return []
    with open(ALLOWLIST, encoding='utf-8') as file:
        names = [line.split('#')[0].strip() for line in file]
    return [name.removeprefix('pcapkit_tcpflow._core.') for name in names if name]


def stub_functions(qualname: str) -> list[ast.FunctionDef]:
    """The stub's definitions of a function or method (several if overloaded)."""
    body: list[ast.stmt] = ast.parse(open(STUB, encoding='utf-8').read()).body
    *classes, name = qualname.split('.')
    for cls in classes:
        body = next(node.body for node in body if isinstance(node, ast.ClassDef)
                    and node.name == cls)
    found = [node for node in body if isinstance(node, ast.FunctionDef) and node.name == name]
    assert found, f'{qualname} is not in the stub'
    return found


def check_signature(qualname: str) -> None:
    """The stub's parameters of a function or method against its C text signature."""
    from pcapkit_tcpflow import _core

    runtime = _core
    for part in qualname.split('.'):
        runtime = getattr(runtime, part)
    params = list(inspect.signature(runtime).parameters.values())
    if params and params[0].name == 'self':  # a text signature with $self
        params = params[1:]
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword = [p.name for p in params if p.kind is p.KEYWORD_ONLY]
    assert len(positional) + len(keyword) == len(params), params
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    overloads = stub_functions(qualname)
    for node in overloads:
        args = node.args
        stub_positional = [a.arg for a in args.posonlyargs + args.args]
        if '.' in qualname:
            assert stub_positional[0] == 'self'
            stub_positional = stub_positional[1:]
        # what the C code parses by position only is positional-only in the stub
        assert [a.arg for a in args.args] in ([], ['self']), f'{qualname}: expected "/"'
        assert stub_positional == positional, qualname
        assert [a.arg for a in args.kwonlyargs] == keyword, qualname
        assert args.vararg is None and args.kwarg is None, qualname
        if len(overloads) == 1:
            values = args.defaults + [d for d in args.kw_defaults if d is not None]
            names = (stub_positional[len(stub_positional) - len(args.defaults):]
                     + [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults)
                        if d is not None])
            assert {n: ast.literal_eval(v) for n, v in zip(names, values)} == defaults, qualname


def test_allowlisted_stub_signatures_match_the_docstrings():
    """stubtest skips the allowlisted functions (the C text signatures omit
    ``$self`` and ``/``); their parameter names and defaults are checked here."""
    for qualname in allowlisted():
        check_signature(qualname)
