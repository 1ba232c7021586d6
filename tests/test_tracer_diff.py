"""pcapkit_tcpflow.TCP against pcapkit's TCP on generated packet sequences.

The default hooks (label, dumper, Index, callbacks, _stream) run in C; the
truth here is pcapkit's tracer fed the same packets: every return value of
trace(), every callback, submit(), the open buffers and the files written
must be the same.
"""
from __future__ import annotations

import decimal
import ipaddress
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import HAVE_PCAPKIT, need_pcapkit
from pcapkit_tcpflow import TCP
from pcapkit_tcpflow.dumpers import NullDumper


class V4Sub(ipaddress.IPv4Address):
    """An address subclass: its text is asked of the object, not made in C."""


ADDRESSES = [
    ipaddress.ip_address('10.0.0.1'), ipaddress.ip_address('192.0.2.255'),
    ipaddress.ip_address('0.0.0.0'), V4Sub('10.0.0.1'),
    ipaddress.ip_address('2001:db8::1'), ipaddress.ip_address('::'),
    ipaddress.ip_address('::ffff:10.0.0.1'), ipaddress.ip_address('::10.0.0.1'),
    ipaddress.ip_address('fe80::1%eth0'), ipaddress.ip_address('1:0:0:1:0:0:0:1'),
    ipaddress.ip_address('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'),
]

timestamps = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-2**70, max_value=2**70),
    st.decimals(allow_nan=False, allow_infinity=False, places=6,
                min_value=decimal.Decimal(-10**12), max_value=decimal.Decimal(10**12)),
    st.sampled_from([1.0, 0.0, -0.0, 1e-05, 1600000000.123456, 2**53 + 0.0]),
)

packets = st.lists(st.tuples(
    st.sampled_from(range(len(ADDRESSES))), st.sampled_from([0, 1, 80, 65535]),
    st.sampled_from(range(len(ADDRESSES))), st.sampled_from([0, 443]),
    st.booleans(), timestamps, st.booleans()), min_size=1, max_size=40)


def _pcapkit_class():
    from pcapkit.foundation.extraction import Extractor
    from pcapkit.foundation.traceflow.tcp import TCP as PcapkitTCP
    saved = dict(Extractor.__traceflow__)
    klass = type('Theirs', (PcapkitTCP,), {})
    Extractor.__traceflow__.clear()
    Extractor.__traceflow__.update(saved)
    return klass


def _run(klass, root, fmt, seq):
    """Trace seq; return everything observable, with root made relative."""
    from pcapkit.foundation.traceflow.data.tcp import Packet
    seen = []
    klass.register_callback(lambda index: seen.append(('callback', _index(index, root))))
    tcp = klass(root, fmt)
    for n, (s, sp, d, dp, fin, ts, output) in enumerate(seq, 1):
        pkt = Packet(protocol=1, index=n, frame=None, syn=False, fin=fin, src=ADDRESSES[s],
                   srcport=sp, dst=ADDRESSES[d], dstport=dp, timestamp=ts)
        try:
            got = tcp.trace(pkt, output=output)
        except Exception as error:  # noqa: BLE001 - both must fail alike
            seen.append(('error', type(error).__name__))
            continue
        if output:
            seen.append(('dumper', _dumper_name(got, root)))
        else:
            seen.append(('label', got))
    seen.append(('submit', [_index(i, root) for i in tcp.submit()]))
    seen.append(('buffer', [(key, list(buf.index), buf.label, _dumper_name(buf.fpout, root))
                            for key, buf in tcp._buffer.items()]))
    return seen


def _index(index, root):
    fpout = index.fpout
    if isinstance(fpout, str):
        fpout = os.path.relpath(fpout, root)
    return (fpout, index.index, index.label, type(index).__name__)


def _dumper_name(dumper, root):
    name = getattr(dumper, '_file', None)
    return None if name is None else os.path.relpath(name, root)


@pytest.mark.skipif(not HAVE_PCAPKIT, reason='needs pcapkit (CI requires it)')
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(seq=packets, fmt=st.sampled_from(['pcap', 'no-output']))
def test_same_observations_as_pcapkit(seq, fmt):
    need_pcapkit()
    import logging
    logging.getLogger('pcapkit').setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as ours_root, tempfile.TemporaryDirectory() as their_root:
        ours = _run(type('Ours', (TCP,), {}), ours_root, fmt, seq)
        theirs = _run(_pcapkit_class(), their_root, fmt, seq)
        assert ours == theirs
        assert sorted(os.listdir(ours_root)) == sorted(os.listdir(their_root))
        for name in os.listdir(ours_root):
            with open(os.path.join(ours_root, name), 'rb') as a, \
                    open(os.path.join(their_root, name), 'rb') as b:
                assert a.read() == b.read(), name


def test_no_output_dumper_is_made_once_when_asked_for(tmp_path):
    tcp = TCP(str(tmp_path), 'no-output')
    pkt = dict(protocol=1, index=1, frame=None, syn=False, fin=False,
               src=ipaddress.ip_address('10.0.0.1'), srcport=1,
               dst=ipaddress.ip_address('10.0.0.2'), dstport=2, timestamp=1.5)
    label = tcp.trace(pkt)
    first = tcp.trace(dict(pkt, index=2), output=True)
    assert type(first) is NullDumper and first._file == f'{tmp_path}/{label}'
    assert tcp.trace(dict(pkt, index=3), output=True) is first
    (buf,) = tcp._buffer.values()
    assert buf.fpout is first and buf.index == [1, 2, 3]
    assert os.listdir(tmp_path) == []


def test_overridden_hooks_are_called(tmp_path):
    calls = []

    class Hooked(TCP):
        def _open_flow(self, label, protocol):
            calls.append(('open', label, protocol))
            return super()._open_flow(label, protocol)

        def _close_flow(self, label, frames):
            calls.append(('close', label, frames))
            super()._close_flow(label, frames)

    tcp = Hooked(str(tmp_path), 'pcap')
    pkt = dict(protocol=1, index=1, frame=None, syn=False, fin=False,
               src=ipaddress.ip_address('10.0.0.1'), srcport=1,
               dst=ipaddress.ip_address('10.0.0.2'), dstport=2, timestamp=2.0)
    tcp.trace(pkt)
    tcp.trace(dict(pkt, index=5, fin=True))
    label = '10.0.0.1_1-10.0.0.2_2-2.0'
    assert calls == [('open', label, 1), ('close', label, (1, 5))]
    assert [(i.fpout, i.index) for i in tcp.submit()] == [(f'{tmp_path}/{label}.pcap', (1, 5))]
    assert os.listdir(tmp_path) == [f'{label}.pcap']


def test_index_records_made_in_c_equal_the_constructors(tmp_path):
    """extract() and the tracer build Index records in C; each must be what
    the Index constructor builds from the same fields."""
    need_pcapkit()
    import pathlib

    import pcapkit_tcpflow
    from pcapkit.foundation.traceflow.data.tcp import Index
    sample = pathlib.Path(__file__).resolve().parent.parent / 'examples' / 'sample.pcap'
    ext = pcapkit_tcpflow.extract(str(sample), nofile=True, trace=True, tcp=True,
                                  trace_fout=str(tmp_path / 'out'))
    tcp = TCP(str(tmp_path / 'tracer'), 'pcap')
    tcp.trace(dict(protocol=1, index=3, frame=None, syn=False, fin=True,
                   src=ipaddress.ip_address('10.0.0.1'), srcport=1,
                   dst=ipaddress.ip_address('10.0.0.2'), dstport=2, timestamp=1.25))
    records = list(ext.trace.tcp) + list(tcp.submit())
    assert len(records) > 1
    for record in records:
        built = Index(fpout=record.fpout, index=record.index, label=record.label)
        assert type(record) is Index
        assert vars(record) == vars(built) and record == built and repr(record) == repr(built)
        assert dict(record) == dict(built) and record.fpout.endswith(f'/{record.label}.pcap')


def test_submit_from_a_callback_is_what_pcapkit_gives(tmp_path):
    """A callback may read the tracer: submit() inside it sees the flow that
    is closing neither open nor closed yet, and caches that (pcapkit does)."""
    need_pcapkit()
    from pcapkit.foundation.traceflow.data.tcp import Packet

    def run(klass, root):
        seen = []
        tracer = []
        klass.register_callback(
            lambda index: seen.append([(i.label, i.index) for i in tracer[0].submit()]))
        tcp = klass(root, 'pcap')
        tracer.append(tcp)
        a, b = ADDRESSES[0], ADDRESSES[4]
        for n, (src, fin) in enumerate([(a, False), (b, False), (a, True), (b, False),
                                        (b, True), (a, False)], 1):
            tcp.trace(Packet(protocol=1, index=n, frame=None, syn=False, fin=fin, src=src,
                             srcport=1, dst=ADDRESSES[1], dstport=2, timestamp=float(n)))
            seen.append([(i.label, i.index) for i in tcp.submit()])
        return seen

    ours = run(type('Ours', (TCP,), {}), str(tmp_path / 'ours'))
    theirs = run(_pcapkit_class(), str(tmp_path / 'theirs'))
    assert ours == theirs and len(ours) == 8


def test_trace_from_code_run_by_submit_is_refused(tmp_path):
    """submit() may run Python code (here the output folder's __format__);
    a trace() from there would change the flows being walked: refused."""
    class Root:
        def __init__(self, path):
            self.path, self.tcp = path, None

        def __format__(self, spec):
            self.tcp.trace(dict(protocol=1, index=99, frame=None, syn=False, fin=True,
                                src=ADDRESSES[0], srcport=7, dst=ADDRESSES[1], dstport=8,
                                timestamp=9.0))
            return self.path

    root = Root(str(tmp_path))
    tcp = TCP(str(tmp_path), 'pcap')
    tcp.trace(dict(protocol=1, index=1, frame=None, syn=False, fin=False, src=ADDRESSES[0],
                   srcport=1, dst=ADDRESSES[1], dstport=2, timestamp=1.0))
    tcp._fproot = root
    root.tcp = tcp
    with pytest.raises(RuntimeError, match='again'):
        tcp.submit()
    root.tcp = None
    root.__class__.__format__ = lambda self, spec: self.path
    assert [i.index for i in tcp.submit()] == [(1,)]
