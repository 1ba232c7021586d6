"""The documentation builds with Sphinx, warnings as errors, and README.rst
renders with docutils without a warning.

Sphinx (and docutils, which comes with it) are test requirements: these
tests fail, not skip, when they are missing.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_sphinx_builds_without_warnings(tmp_path):
    out = tmp_path / 'html'
    proc = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-b', 'html',
         '-d', str(tmp_path / 'doctrees'), os.path.join(ROOT, 'docs'), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    if 'No module named sphinx' in proc.stderr:
        raise AssertionError('Sphinx is not installed: '
                             "python3 -m pip install -e '.[docs]' (or '.[test]')")
    assert proc.returncode == 0, (
        f'sphinx-build failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n'
        f'{proc.stderr[-8000:]}')
    assert (out / 'index.html').is_file()
    api = out / 'api.html'
    assert api.is_file()
    assert 'extract' in api.read_text(encoding='utf-8')


def test_readme_renders_without_warnings():
    try:
        import docutils.core
    except ImportError as error:  # not a skip: docutils is a test requirement
        raise AssertionError('docutils is not installed (it comes with Sphinx): '
                             "python3 -m pip install -e '.[docs]'") from error
    with open(os.path.join(ROOT, 'README.rst'), encoding='utf-8') as f:
        source = f.read()
    messages = io.StringIO()
    docutils.core.publish_string(
        source, source_path='README.rst', writer='html',
        settings_overrides={'warning_stream': messages, 'report_level': 2,
                            'halt_level': 5, 'output_encoding': 'unicode'})
    assert messages.getvalue() == '', f'README.rst has docutils messages:\n{messages.getvalue()}'
