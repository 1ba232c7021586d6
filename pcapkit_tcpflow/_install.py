"""Make pcapkit use pcapkit_tcpflow's tracer, and undo it."""
from __future__ import annotations

import threading
from typing import Any

__all__ = ['install', 'uninstall', 'is_installed']

_lock = threading.Lock()
_MISSING = object()
_saved: Any = _MISSING


def _extractor() -> Any:
    try:
        from pcapkit.foundation.extraction import Extractor
    except ImportError as error:
        raise ImportError('pcapkit is not installed; install it with: pip install pypcapkit') \
            from error
    return Extractor


def install() -> None:
    """Make ``pcapkit.extract()`` and ``Extractor`` trace TCP flows with
    :class:`pcapkit_tcpflow.TCP`.  Calling it again changes nothing."""
    global _saved
    from pcapkit_tcpflow.tcp import TCP

    extractor = _extractor()
    with _lock:
        if _saved is _MISSING:
            _saved = extractor.__traceflow__.get('tcp', _MISSING)
        extractor.__traceflow__['tcp'] = TCP


def uninstall() -> None:
    """Give pcapkit back the tracer it had before :func:`install`."""
    global _saved
    extractor = _extractor()
    with _lock:
        if _saved is _MISSING:
            return
        extractor.__traceflow__['tcp'] = _saved
        _saved = _MISSING


def is_installed() -> bool:
    """Whether pcapkit currently uses pcapkit_tcpflow's tracer."""
    from pcapkit_tcpflow.tcp import TCP
    try:
        extractor = _extractor()
    except ImportError:
        return False
    return extractor.__traceflow__.get('tcp') is TCP
