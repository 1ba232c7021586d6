"""Shared fixtures.

Tests that need ../shared/corpus (beside the checkout) or pcapkit skip when
they are missing, unless PCAPKIT_TCPFLOW_REQUIRE_CORPUS=1 or
PCAPKIT_TCPFLOW_REQUIRE_PCAPKIT=1 is set (CI sets both), in which case they
fail.
"""
from __future__ import annotations

import importlib.util
import ipaddress
import os
import pathlib
import time
from typing import Any

import pytest

# pcapkit adds the machine's local UTC offset to pcapng times (its recorded
# results were made under UTC): compare under UTC.  Our results do not
# depend on it (tests/test_native_io.py::test_pcapng_times_ignore_local_timezone).
os.environ['TZ'] = 'UTC'
time.tzset()

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / 'shared' / 'corpus'
HAVE_PCAPKIT = importlib.util.find_spec('pcapkit') is not None


def _required(name: str) -> bool:
    return os.environ.get(name, '') not in ('', '0')


def need_pcapkit() -> None:
    """Skip (or fail in CI) when pcapkit is not installed."""
    if not HAVE_PCAPKIT:
        if _required('PCAPKIT_TCPFLOW_REQUIRE_PCAPKIT'):
            pytest.fail('pcapkit is required here but not installed')
        pytest.skip('pcapkit is not installed')


@pytest.fixture(scope='session')
def corpus() -> pathlib.Path:
    """The shared corpus folder."""
    if not CORPUS.is_dir():
        if _required('PCAPKIT_TCPFLOW_REQUIRE_CORPUS'):
            pytest.fail(f'the shared corpus is required but missing: {CORPUS}')
        pytest.skip('the shared corpus is not beside this checkout')
    return CORPUS


@pytest.fixture(scope='session')
def pcapkit_mod() -> Any:
    """The pcapkit module."""
    need_pcapkit()
    import pcapkit
    return pcapkit


_PCAPKIT_RUNS: dict[str, Any] = {}


def pcapkit_run(path: Any) -> Any:
    """pcapkit's own ``extract(trace=True, tcp=True)`` of a capture, run once
    per test session (with pcapkit's tracer, whatever is installed), into a
    folder kept until the session ends.  Returns (extraction, folder)."""
    need_pcapkit()
    import pcapkit_tcpflow
    assert not pcapkit_tcpflow.is_installed(), 'pcapkit_run needs pcapkit as shipped'
    key = str(path)
    if key not in _PCAPKIT_RUNS:
        import atexit
        import shutil
        import tempfile

        from pcapkit.foundation.extraction import Extractor
        from pcapkit.foundation.traceflow.tcp import TCP as PcapkitTCP

        out = tempfile.mkdtemp(prefix='pcapkit-run-')
        atexit.register(shutil.rmtree, out, True)
        saved = Extractor.__traceflow__['tcp']
        Extractor.__traceflow__['tcp'] = PcapkitTCP
        try:
            # the class, not pcapkit.extract(), which install() may route natively
            extraction = Extractor(fin=key, nofile=True, store=False, trace=True, tcp=True,
                                   trace_fout=out)
        finally:
            Extractor.__traceflow__['tcp'] = saved
        _PCAPKIT_RUNS[key] = (extraction, out)
    return _PCAPKIT_RUNS[key]


def packet(index: int, src: Any, sport: int, dst: Any, dport: int, *, fin: bool = False,
           syn: bool = False, timestamp: Any = 1600000000.0, protocol: Any = 1,
           frame: Any = None) -> Any:
    """A trace packet: pcapkit's Packet when pcapkit is installed, else a dict."""
    src = ipaddress.ip_address(src) if isinstance(src, str) else src
    dst = ipaddress.ip_address(dst) if isinstance(dst, str) else dst
    fields = dict(protocol=protocol, index=index, frame=frame, syn=syn, fin=fin, src=src, dst=dst,
                  srcport=sport, dstport=dport, timestamp=timestamp)
    if HAVE_PCAPKIT:
        from pcapkit.foundation.traceflow.data.tcp import Packet
        return Packet(**fields)
    return fields
