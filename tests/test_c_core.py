"""Builds and runs the C unit tests of the core (csrc/tests/test_core.c).

The core is plain C: the test binary is compiled from csrc/tests/test_core.c
and csrc/core/*.c alone, without any Python include directory, under
AddressSanitizer and UBSan when the compiler supports them.  This test never
skips: a missing C compiler is a failure.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_SOURCE = ROOT / 'csrc' / 'tests' / 'test_core.c'
CORE_SOURCES = sorted((ROOT / 'csrc' / 'core').glob('*.c'))

BASE_FLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O1', '-g']
SANITIZE_FLAGS = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined']
COMPILE_TIMEOUT = 300
RUN_TIMEOUT = 300


def _compiler() -> list[str]:
    """The C compiler Python was built with (it may carry flags), else cc."""
    configured = sysconfig.get_config_var('CC') or ''
    words = shlex.split(configured)
    if words and shutil.which(words[0]):
        return words
    if shutil.which('cc'):
        return ['cc']
    pytest.fail(f'no C compiler found (sysconfig CC={configured!r}, no cc on PATH); '
                'the C core tests need one')


def _python_include_dirs() -> set[Path]:
    dirs = set()
    for value in (sysconfig.get_paths().get('include'), sysconfig.get_paths().get('platinclude'),
                  sysconfig.get_config_var('INCLUDEPY'), sysconfig.get_config_var('CONFINCLUDEPY')):
        if value:
            dirs.add(Path(value).resolve())
    return dirs


def _assert_no_python_includes(cmd: list[str]) -> None:
    python_dirs = _python_include_dirs()
    assert python_dirs, 'could not determine the Python include directory'
    for i, arg in enumerate(cmd):
        for opt in ('-I', '-isystem', '-idirafter', '-iquote'):
            if arg.startswith(opt):
                value = arg[len(opt):] or (cmd[i + 1] if i + 1 < len(cmd) else '')
                assert Path(value).resolve() not in python_dirs, (
                    f'compile command must not use the Python include dir: {cmd}')
        for d in python_dirs:
            assert str(d) not in arg, f'compile command mentions {d}: {cmd}'
    assert 'Python.h' not in TEST_SOURCE.read_text(), 'test_core.c must not use Python.h'


def _compile(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=COMPILE_TIMEOUT)


def _sanitizers_supported(cc: list[str], tmp_path: Path) -> bool:
    """Whether cc can build and link a trivial program with the sanitizers."""
    probe = tmp_path / 'sanitizer_probe.c'
    probe.write_text('int main(void) { return 0; }\n')
    result = _compile(cc + BASE_FLAGS + SANITIZE_FLAGS + [str(probe), '-o',
                                                          str(tmp_path / 'sanitizer_probe')])
    return result.returncode == 0


def _build(tmp_path: Path) -> tuple[Path, bool]:
    cc = _compiler()
    binary = tmp_path / 'test_core'
    sources = [str(TEST_SOURCE)] + [str(p) for p in CORE_SOURCES]
    assert len(CORE_SOURCES) >= 3, CORE_SOURCES

    cmd = cc + BASE_FLAGS + SANITIZE_FLAGS + sources + ['-o', str(binary), '-lpcap']
    _assert_no_python_includes(cmd)
    result = _compile(cmd)
    if result.returncode == 0:
        return binary, True
    # Retry without sanitizers only when they are what the compiler rejects.
    if _sanitizers_supported(cc, tmp_path):
        pytest.fail(f'compiling the C tests failed:\n{shlex.join(cmd)}\n{result.stdout}')
    cmd = cc + BASE_FLAGS + sources + ['-o', str(binary), '-lpcap']
    _assert_no_python_includes(cmd)
    result = _compile(cmd)
    assert result.returncode == 0, (
        f'compiling the C tests failed:\n{shlex.join(cmd)}\n{result.stdout}')
    return binary, False


def test_c_core(tmp_path: Path) -> None:
    binary, sanitized = _build(tmp_path)

    env = dict(os.environ)
    env['ASAN_OPTIONS'] = 'detect_leaks=1'
    env['UBSAN_OPTIONS'] = 'print_stacktrace=1'
    env['TMPDIR'] = str(tmp_path)  # test_core.c puts its temporary files there
    result = subprocess.run([str(binary)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, timeout=RUN_TIMEOUT)
    report = (f'sanitizers: {"on" if sanitized else "OFF (unsupported by the compiler)"}\n'
              f'return code {result.returncode}\n'
              f'--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}')
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, report
    assert lines, report
    assert re.fullmatch(r'\d+ passed, 0 failed', lines[-1]), report
    assert not lines[-1].startswith('0 passed'), report


def test_replay_corpus_under_sanitizers(corpus, tmp_path):
    """The C core alone (csrc/tests/trace_file.c, no Python) over every
    capture of the corpus, writing flow files, under ASan and UBSan: no
    report, no crash, every file ends with a status line."""
    cc = _compiler()
    binary = tmp_path / 'trace_file'
    cmd = cc + BASE_FLAGS + SANITIZE_FLAGS + ['-Icsrc/core', 'csrc/tests/trace_file.c'] + \
        [str(p) for p in CORE_SOURCES] + ['-o', str(binary), '-lpcap']
    _assert_no_python_includes(cmd)
    result = _compile(cmd)
    assert result.returncode == 0, result.stdout
    captures = sorted(str(p) for d in ('real', 'synthetic', 'malformed')
                      for p in (corpus / d).iterdir())
    captures += sorted(str(p) for p in (ROOT / 'tests' / 'regressions').iterdir()
                       if p.name != 'README')
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    env = dict(os.environ, ASAN_OPTIONS='detect_leaks=1:abort_on_error=0',
               UBSAN_OPTIONS='print_stacktrace=1')
    run = subprocess.run([str(binary), '-o', str(out_dir)] + captures, capture_output=True,
                         text=True, timeout=600, env=env, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert 'runtime error' not in run.stderr and 'Sanitizer' not in run.stderr, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert len(lines) == len(captures)
    assert all(line.startswith(path + ':') for line, path in zip(lines, captures))
