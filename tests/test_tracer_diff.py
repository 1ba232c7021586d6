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


def _pkt(index, fin=False, srcport=1):
    return dict(protocol=1, index=index, frame=None, syn=False, fin=fin, src=ADDRESSES[0],
                srcport=srcport, dst=ADDRESSES[1], dstport=2, timestamp=1.0)


def test_settings_replaced_by_code_the_tracer_runs_do_not_crash(tmp_path):
    """_fproot's __format__ deletes _fdpext and _endian while a flow opens:
    the values read before stay in use (run in a child: a crash fails)."""
    import subprocess
    import sys
    import textwrap
    code = textwrap.dedent(f'''
        import ipaddress
        from pcapkit_tcpflow import TCP

        class Root:
            def __format__(self, spec):
                for name in ('_fdpext', '_endian', '_nnsecd'):
                    try:
                        delattr(tcp, name)
                    except AttributeError:
                        pass
                return {str(tmp_path)!r}

        tcp = TCP({str(tmp_path)!r}, 'pcap')
        tcp._fproot = Root()
        a, b = ipaddress.ip_address('10.0.0.1'), ipaddress.ip_address('10.0.0.2')
        tcp.trace(dict(protocol=1, index=1, frame=None, syn=False, fin=False, src=a,
                       srcport=1, dst=b, dstport=2, timestamp=1.0))
        try:
            tcp.trace(dict(protocol=1, index=2, frame=None, syn=False, fin=False, src=a,
                           srcport=3, dst=b, dstport=2, timestamp=1.0))
        except AttributeError as error:
            print('refused', error)
        print('alive')
    ''')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "refused 'TCP' object has no attribute '_endian'", 'alive']
    assert os.listdir(tmp_path) == ['10.0.0.1_1-10.0.0.2_2-1.0.pcap']


def test_lazy_dumper_made_once_when_code_asks_for_it_meanwhile(tmp_path):
    """Making a flow's no-output dumper runs _fproot's __format__, which asks
    for the open flows (and so for the same dumper): one dumper results."""
    class Root:
        nested = 0

        def __format__(self, spec):
            if tcp is not None and not self.nested:
                self.nested += 1
                tcp._open_flows()  # makes the dumper, one level down
            return str(tmp_path)

    tcp = None
    tracer = TCP(str(tmp_path), 'no-output')
    tracer._fproot = Root()
    tracer.trace(_pkt(1))
    tcp = tracer
    dumper = tracer.trace(_pkt(2), output=True)
    assert [buf.fpout for buf in tracer._buffer.values()] == [dumper]
    import gc
    gc.collect()
    assert [o for o in gc.get_objects() if type(o) is NullDumper] == [dumper]
    assert dumper._file == f'{tmp_path}/{tracer.submit()[0].label}'


def test_failed_dumper_leaves_the_flow_as_it_was(tmp_path):
    """trace(fin packet, output=True) whose dumper cannot be made raises and
    changes nothing: the flow stays open with its frames (atomic)."""
    class Root:
        fail = False

        def __format__(self, spec):
            if self.fail:
                raise OSError('no folder')
            return str(tmp_path)

    root = Root()
    tcp = TCP(str(tmp_path), 'no-output')
    tcp._fproot = root
    tcp.trace(_pkt(1))
    root.fail = True
    with pytest.raises(OSError, match='no folder'):
        tcp.trace(_pkt(2, fin=True), output=True)
    root.fail = False
    assert [(i.index, i.fpout) for i in tcp.submit()] == [((1,), None)]
    assert tcp._open_count == 1
    tcp.trace(_pkt(3, fin=True))
    assert [i.index for i in tcp.submit()] == [(1, 3)] and tcp._open_count == 0


def test_session_walk_refuses_step_from_code_it_runs(tmp_path):
    """Session.indexes() calls the Index factory: a step() from there would
    change the flow table under the walk and is refused."""
    import pathlib

    from pcapkit_tcpflow import _compat, _core
    from pcapkit_tcpflow.dumpers import NullDumper
    sample = pathlib.Path(__file__).resolve().parent.parent / 'examples' / 'sample.pcap'
    session = _core.Session(str(sample), 0, None, '', False, False, 1, False, 1, False)
    while session.step(1000) != 1:
        pass
    session.finish()
    made = []

    def factory(fpout, index, label):
        made.append(label)
        session.step(1)
        return (fpout, index, label)

    try:
        _core._set_defaults(factory, None, NullDumper)
        with pytest.raises(RuntimeError, match='in use'):
            session.indexes(None, '')
    finally:
        _core._set_defaults(_compat.index_factory(), _compat.index_fast_type(), NullDumper)
    assert len(made) == 1
    assert len(session.indexes(None, '')) == len(session.flows()) > 1
