"""pcapkit_tcpflow: pcapkit's TCP flow tracer with a C core.

``pcapkit_tcpflow.TCP`` is a drop-in replacement for
``pcapkit.foundation.traceflow.tcp.TCP``; :func:`install` makes pcapkit's
``extract()`` and ``Extractor`` use it.
"""
from pcapkit_tcpflow._compat import HAVE_PCAPKIT, Index
from pcapkit_tcpflow._install import install, is_installed, uninstall
from pcapkit_tcpflow.dumpers import PCAPDumper
from pcapkit_tcpflow.extract import Extraction, FormatError, TruncatedCaptureWarning, extract
from pcapkit_tcpflow.tcp import TCP

__version__ = '0.1.0'

__all__ = ['TCP', 'Index', 'PCAPDumper', 'extract', 'Extraction', 'FormatError',
           'TruncatedCaptureWarning', 'install', 'uninstall', 'is_installed', 'HAVE_PCAPKIT',
           '__version__']
