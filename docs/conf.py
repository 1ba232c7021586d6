"""Sphinx configuration of the pcapkit-tcpflow documentation.

Build (warnings are errors)::

    python3 -m pip install -e '.[docs]'
    python3 -m sphinx -W -b html docs docs/_build/html

autodoc imports the installed package ``pcapkit_tcpflow`` (with its built C
extension); nothing is added to ``sys.path``.
"""
from __future__ import annotations

import importlib.util

import pcapkit_tcpflow

project = 'pcapkit-tcpflow'
author = 'the pcapkit-tcpflow authors'
project_copyright = 'the pcapkit-tcpflow authors'
release = pcapkit_tcpflow.__version__
version = '.'.join(release.split('.')[:2])
language = 'en'

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]

root_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
exclude_patterns = ['_build']
nitpicky = False

# The optional libraries of the analysis API are imported lazily by the
# package; the ones absent at build time are mocked so that autodoc can
# still import every module it documents.
autodoc_mock_imports = [name for name in ('pandas', 'pyarrow', 'matplotlib', 'tqdm')
                        if importlib.util.find_spec(name) is None]
autodoc_member_order = 'bysource'
autodoc_preserve_defaults = True
autodoc_typehints = 'description'
autodoc_typehints_description_target = 'documented'

napoleon_google_docstring = True
napoleon_numpy_docstring = False


# napoleon reads the first line of an attribute's or property's docstring
# of the form ``text: more`` as ``type: description``.  The package writes
# these docstrings as prose ("Traced flows: ``trace.tcp``."), so they are
# kept as written: saved before napoleon runs (priority 400 < 500) and put
# back after it (priority 600).
_ATTRIBUTE_KINDS = ('attribute', 'data', 'property')
_attribute_docstrings: dict[str, list[str]] = {}


def _save_attribute_docstring(app, what, name, obj, options, lines):
    if what in _ATTRIBUTE_KINDS:
        _attribute_docstrings[name] = list(lines)


def _restore_attribute_docstring(app, what, name, obj, options, lines):
    if what in _ATTRIBUTE_KINDS and name in _attribute_docstrings:
        lines[:] = _attribute_docstrings.pop(name)


def setup(app):
    app.connect('autodoc-process-docstring', _save_attribute_docstring, priority=400)
    app.connect('autodoc-process-docstring', _restore_attribute_docstring, priority=600)
