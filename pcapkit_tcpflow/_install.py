"""Make pcapkit use pcapkit_tcpflow, and undo it.

``install()`` does two things, both undone by ``uninstall()``:

- pcapkit's ``Extractor`` traces TCP flows with :class:`pcapkit_tcpflow.TCP`
  (the C flow table) instead of pcapkit's tracer;
- ``pcapkit.extract()`` runs natively (:func:`pcapkit_tcpflow.extract`) when
  its options are ones the native path serves (TCP tracing with
  ``nofile=True``, no reassembly, pcap or no flow output); other calls run
  pcapkit's own ``extract()``, with the C tracer.
"""
from __future__ import annotations

import functools
import threading
from typing import Any

__all__ = ['install', 'uninstall', 'is_installed', 'original_extract']

_lock = threading.Lock()
_MISSING = object()
_saved_tracer: Any = _MISSING
_saved_extract: Any = _MISSING
# Places pcapkit exposes extract() from: (module name, attribute).
_EXTRACT_HOMES = (('pcapkit', 'extract'), ('pcapkit.interface', 'extract'),
                  ('pcapkit.interface.core', 'extract'))


def _extractor() -> Any:
    try:
        from pcapkit.foundation.extraction import Extractor
    except ImportError as error:
        raise ImportError('pcapkit is not installed; install it with: pip install pypcapkit') \
            from error
    return Extractor


def original_extract() -> Any:
    """pcapkit's own ``extract()`` function, whether or not installed."""
    if _saved_extract is not _MISSING:
        return _saved_extract
    import pcapkit.interface.core
    return pcapkit.interface.core.extract


def _accelerated(original: Any) -> Any:
    from pcapkit_tcpflow.extract import extract

    @functools.wraps(original)
    def extract_with_native_path(*args: Any, **kwargs: Any) -> Any:
        return extract(*args, **kwargs)

    extract_with_native_path.__pcapkit_tcpflow__ = True  # type: ignore[attr-defined]
    return extract_with_native_path


def install() -> None:
    """Make pcapkit trace TCP flows with pcapkit_tcpflow (see the module
    docstring).  Calling it again changes nothing."""
    global _saved_tracer, _saved_extract
    import importlib

    from pcapkit_tcpflow.tcp import TCP

    extractor = _extractor()
    with _lock:
        if _saved_tracer is _MISSING:
            _saved_tracer = extractor.__traceflow__.get('tcp', _MISSING)
        extractor.__traceflow__['tcp'] = TCP
        if _saved_extract is _MISSING:
            core = importlib.import_module('pcapkit.interface.core')
            _saved_extract = core.extract
            wrapper = _accelerated(_saved_extract)
            for module, name in _EXTRACT_HOMES:
                mod = importlib.import_module(module)
                if getattr(mod, name, None) is _saved_extract:
                    setattr(mod, name, wrapper)


def uninstall() -> None:
    """Give pcapkit back its own tracer and ``extract()``."""
    global _saved_tracer, _saved_extract
    import importlib

    extractor = _extractor()
    with _lock:
        if _saved_tracer is not _MISSING:
            extractor.__traceflow__['tcp'] = _saved_tracer
            _saved_tracer = _MISSING
        if _saved_extract is not _MISSING:
            for module, name in _EXTRACT_HOMES:
                mod = importlib.import_module(module)
                if getattr(getattr(mod, name, None), '__pcapkit_tcpflow__', False):
                    setattr(mod, name, _saved_extract)
            _saved_extract = _MISSING


def is_installed() -> bool:
    """Whether pcapkit currently uses pcapkit_tcpflow."""
    from pcapkit_tcpflow.tcp import TCP
    try:
        extractor = _extractor()
    except ImportError:
        return False
    return extractor.__traceflow__.get('tcp') is TCP
