"""pcapkit_tcpflow: pcapkit's TCP flow tracer with a C core.

``pcapkit_tcpflow.TCP`` is a drop-in replacement for
``pcapkit.foundation.traceflow.tcp.TCP``; :func:`install` makes pcapkit's
``extract()`` and ``Extractor`` use it.
"""
from typing import Any

from pcapkit_tcpflow import plot
from pcapkit_tcpflow._compat import HAVE_PCAPKIT, Index
from pcapkit_tcpflow._install import install, is_installed, uninstall
from pcapkit_tcpflow.analysis import flows
from pcapkit_tcpflow.dumpers import PCAPDumper
from pcapkit_tcpflow.extract import (Extraction, FlowStats, FormatError, TruncatedCaptureWarning,
                                     extract)
from pcapkit_tcpflow.tcp import TCP

__version__ = '0.1.0'

__all__ = ['TCP', 'Index', 'PCAPDumper', 'extract', 'Extraction', 'FlowStats', 'flows', 'plot',
           'FormatError', 'TruncatedCaptureWarning', 'install', 'uninstall', 'is_installed',
           'HAVE_PCAPKIT', 'load_ipython_extension', '__version__']


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext pcapkit_tcpflow``: rich display of pcapkit's ``Index``
    records (done on import too when IPython is running).  pcapkit's class
    is not changed: the HTML formatter is registered with IPython."""
    from pcapkit_tcpflow.analysis import index_html

    formatter = ipython.display_formatter.formatters['text/html']
    formatter.for_type(Index, index_html)


def _register_with_running_ipython() -> None:
    import sys
    get = getattr(sys.modules.get('IPython'), 'get_ipython', None)
    shell = get() if get is not None else None
    if shell is not None and getattr(shell, 'display_formatter', None) is not None:
        load_ipython_extension(shell)


_register_with_running_ipython()
