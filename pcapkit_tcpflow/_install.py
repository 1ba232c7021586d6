"""Make pcapkit use pcapkit_tcpflow, and undo it.

``install()`` does three things, all undone by ``uninstall()``:

- pcapkit's ``Extractor`` traces TCP flows with :class:`pcapkit_tcpflow.TCP`
  (the C flow table) instead of pcapkit's tracer;
- ``pcapkit.extract()`` runs natively (:func:`pcapkit_tcpflow.extract`) when
  its options are ones the native path serves (TCP tracing with
  ``nofile=True``, no reassembly, pcap or no flow output); other calls run
  pcapkit's own ``extract()``, with the C tracer;
- ``Extractor(...)`` objects created with such options and ``store=False``
  (nothing asks for their dissected frames) read, decode and trace the
  capture natively when they run; the object is then filled as pcapkit
  would fill it (``length``, ``trace``, ``format``, the input file closed).
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

__all__ = ['install', 'uninstall', 'is_installed', 'original_extract']

_lock = threading.Lock()
_MISSING = object()
_ABSENT: Any = object()  # pcapkit had no 'tcp' tracer entry
_saved_tracer: Any = _MISSING
_saved_extract: Any = _MISSING
_saved_run: Any = _MISSING
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


def _accelerated(original: Callable[..., Any]) -> Callable[..., Any]:
    from pcapkit_tcpflow.extract import extract

    @functools.wraps(original)
    def extract_with_native_path(*args: Any, **kwargs: Any) -> Any:
        return extract(*args, **kwargs)

    extract_with_native_path.__pcapkit_tcpflow__ = True  # type: ignore[attr-defined]
    return extract_with_native_path


def _native_ready(ext: Any) -> bool:
    """Whether an Extractor's options are ones the native path serves."""
    from pcapkit_tcpflow.dumpers import PCAPDumper
    from pcapkit_tcpflow.tcp import TCP

    try:
        tcp = ext._trace.tcp if ext._flag_t else None
        return (ext._flag_a and ext._flag_t and ext._tcp and ext._flag_q and not ext._flag_d
                and not ext._flag_r and not ext._flag_v and not ext._flag_n
                and not ext._ipv4 and not ext._ipv6
                and ext._exnam in ('default', 'pcapkit') and ext._exlyr == 'none'
                and ext._exptl == 'null' and isinstance(tcp, TCP)
                and (tcp._foutio is PCAPDumper or tcp._fdpext is None)
                and ext._magic in (b'\xd4\xc3\xb2\xa1', b'\xa1\xb2\xc3\xd4',
                                   b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d',
                                   b'\x0a\x0d\x0d\x0a'))
    except AttributeError:  # another pcapkit: run its own way
        return False


def _accelerated_run(original: Callable[[Any], None]) -> Callable[[Any], None]:
    @functools.wraps(original)
    def run(self: Any) -> None:
        if not _native_ready(self):
            return original(self)
        from pcapkit.foundation.engines.pcap import PCAP
        from pcapkit.foundation.engines.pcapng import PCAPNG

        from pcapkit_tcpflow.extract import _run_native

        tcp = self._trace.tcp
        result = _run_native(self._ifile, tcp._fproot if tcp._fdpext is not None else None,
                             tcp._fdpext, tcp._endian == 'big', bool(tcp._nnsecd), None, False,
                             callbacks=tcp.__callback_fn__)
        # What pcapkit's own run leaves behind: the frame count, the flows
        # (the tracer's index), an engine object, EOF, the input closed.
        self._frnum = result.length
        tcp._stream = list(result.trace.tcp)
        self._exeng = (PCAPNG if self._magic == b'\x0a\x0d\x0d\x0a' else PCAP)(self)
        self._cleanup()
        return None

    run.__pcapkit_tcpflow__ = True  # type: ignore[attr-defined]
    return run


def install() -> None:
    """Make pcapkit trace TCP flows with pcapkit_tcpflow (see the module
    docstring).  Calling it again changes nothing."""
    global _saved_tracer, _saved_extract, _saved_run
    import importlib

    from pcapkit_tcpflow.tcp import TCP

    extractor = _extractor()
    with _lock:
        if _saved_tracer is _MISSING:
            _saved_tracer = extractor.__traceflow__.get('tcp', _ABSENT)
        extractor.__traceflow__['tcp'] = TCP
        if _saved_run is _MISSING:
            _saved_run = extractor.run
            extractor.run = _accelerated_run(_saved_run)
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
    global _saved_tracer, _saved_extract, _saved_run
    import importlib

    extractor = _extractor()
    with _lock:
        if _saved_run is not _MISSING:
            if getattr(extractor.run, '__pcapkit_tcpflow__', False):
                extractor.run = _saved_run
            _saved_run = _MISSING
        if _saved_tracer is _ABSENT:
            extractor.__traceflow__.pop('tcp', None)
        elif _saved_tracer is not _MISSING:
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
