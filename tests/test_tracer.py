"""Behaviour of the drop-in tracer, checked on pcapkit's tracer too.

Every test in the first part runs against pcapkit_tcpflow.TCP and, when
pcapkit is installed, against pcapkit's own TCP: the expectations are
hand-computed from pcapkit's documented semantics, so both must meet them.
"""
from __future__ import annotations

import ipaddress
import os
import sys

import pytest

import pcapkit_tcpflow
from conftest import HAVE_PCAPKIT, need_pcapkit, packet
from pcapkit_tcpflow import TCP

IMPLS = ['ours'] + (['pcapkit'] if HAVE_PCAPKIT else [])


@pytest.fixture(params=IMPLS)
def tcp_class(request):
    """A fresh subclass (own callback list) of the implementation under test."""
    if request.param == 'ours':
        return type('T', (TCP,), {})
    from pcapkit.foundation.extraction import Extractor
    from pcapkit.foundation.traceflow.tcp import TCP as PcapkitTCP

    # pcapkit's TraceFlow subclasses register themselves with Extractor on
    # creation: undo that so the test leaves pcapkit as it found it.
    saved = dict(Extractor.__traceflow__)
    klass = type('T', (PcapkitTCP,), {})
    Extractor.__traceflow__.clear()
    Extractor.__traceflow__.update(saved)
    return klass


def seq(tcp, *pkts):
    return [tcp.trace(p) for p in pkts]


def test_labels_ipv4(tcp_class, tmp_path):
    tcp = tcp_class(str(tmp_path), 'pcap')
    label = tcp.trace(packet(1, '10.0.0.1', 40000, '10.0.0.2', 80, timestamp=1600000000.5))
    assert label == '10.0.0.1_40000-10.0.0.2_80-1600000000.5'


def test_labels_ipv6_colons_become_dots(tcp_class, tmp_path):
    tcp = tcp_class(str(tmp_path), 'pcap')
    label = tcp.trace(packet(1, '2001:db8::1', 1, '2001:db8::2', 65535, timestamp=1e-05))
    assert label == '2001.db8..1_1-2001.db8..2_65535-1e-05'
    # IPv4-mapped source: str() of the running Python decides the text.
    src = ipaddress.ip_address('::ffff:192.168.7.1')
    label = tcp.trace(packet(2, src, 0, '::1', 0, timestamp=0.0))
    assert label == f'{src}_0-::1_0-0.0'.replace(':', '.')


def test_ipv4_source_keeps_ipv6_destination_colons(tcp_class, tmp_path):
    tcp = tcp_class(str(tmp_path), 'pcap')
    label = tcp.trace(packet(1, '10.0.0.1', 5, '2001:db8::2', 6, timestamp=2.0))
    assert label == '10.0.0.1_5-2001:db8::2_6-2.0'


def test_flows_are_directional_and_fin_closes(tcp_class, tmp_path):
    tcp = tcp_class(str(tmp_path), None)
    a, b = '10.0.0.1', '10.0.0.2'
    pkts = [
        packet(1, a, 40000, b, 8080, syn=True, timestamp=1.0),
        packet(2, b, 8080, a, 40000, syn=True, timestamp=2.0),
        packet(3, a, 40000, b, 8080, timestamp=3.0),
        packet(4, a, 40000, b, 8080, fin=True, timestamp=4.0),
        packet(5, a, 40000, b, 8080, timestamp=5.0),        # re-opens a->b
        packet(6, b, 8080, a, 40000, fin=True, timestamp=6.0),
        packet(7, b, 8080, a, 40000, syn=True, timestamp=7.0),  # re-opens b->a; SYN no effect
    ]
    labels = seq(tcp, *pkts)
    assert labels == [f'{a}_40000-{b}_8080-1.0', f'{b}_8080-{a}_40000-2.0', f'{a}_40000-{b}_8080-1.0',
                      f'{a}_40000-{b}_8080-1.0', f'{a}_40000-{b}_8080-5.0', f'{b}_8080-{a}_40000-2.0',
                      f'{b}_8080-{a}_40000-7.0']
    result = tcp.submit()
    # Open flows in (re)open order, then closed flows in closing order.
    assert [(i.label, i.index) for i in result] == [
        (f'{a}_40000-{b}_8080-5.0', (5,)),
        (f'{b}_8080-{a}_40000-7.0', (7,)),
        (f'{a}_40000-{b}_8080-1.0', (1, 3, 4)),
        (f'{b}_8080-{a}_40000-2.0', (2, 6)),
    ]
    root = str(tmp_path)
    assert [i.fpout for i in result] == [f'{root}/{i.label}.pcap' for i in result]


def test_rst_does_not_close(tcp_class, tmp_path):
    tcp = tcp_class(str(tmp_path), 'pcap')
    tcp.trace(packet(1, '1.1.1.1', 1, '2.2.2.2', 2))
    tcp.trace(packet(2, '1.1.1.1', 1, '2.2.2.2', 2))  # an RST is just a packet here
    assert [i.index for i in tcp.submit()] == [(1, 2)]


def test_submit_cached_until_next_trace(tcp_class, tmp_path):
    tcp = tcp_class(str(tmp_path), 'pcap')
    tcp.trace(packet(1, '1.1.1.1', 1, '2.2.2.2', 2))
    first = tcp.submit()
    assert tcp.submit() is first
    assert tcp.index is first  # index is submit() while flows are open
    tcp.trace(packet(2, '1.1.1.1', 1, '2.2.2.2', 2, fin=True))
    second = tcp.submit()
    assert second is not first and second == tcp.submit()
    assert tcp.index == second and tcp.index is not second  # all closed: tuple(_stream)


def test_empty_tracer(tcp_class, tmp_path):
    tcp = tcp_class(str(tmp_path), 'pcap')
    assert tcp.submit() == () and tcp.index == ()


def test_callbacks_per_class_and_order(tcp_class, tmp_path):
    seen = []
    other = type('Other', (tcp_class,), {})
    tcp_class.register_callback(lambda i: seen.append(('second', i.label, i.index)))
    tcp_class.register_callback(lambda i: seen.append(('first', i.label, i.index)), index=0)
    other.register_callback(lambda i: seen.append(('other', i.label)))
    tcp = tcp_class(str(tmp_path), 'pcap')
    tcp.trace(packet(1, '1.1.1.1', 1, '2.2.2.2', 2, timestamp=1.0))
    assert seen == []
    tcp.trace(packet(2, '1.1.1.1', 1, '2.2.2.2', 2, fin=True))
    assert seen == [('first', '1.1.1.1_1-2.2.2.2_2-1.0', (1, 2)),
                    ('second', '1.1.1.1_1-2.2.2.2_2-1.0', (1, 2))]


def test_callback_receives_index_appended_after(tcp_class, tmp_path):
    tcp = tcp_class(str(tmp_path), 'pcap')
    got = []
    tcp_class.register_callback(lambda i: got.append((i, len(tcp._stream))))
    tcp.trace(packet(1, '1.1.1.1', 1, '2.2.2.2', 2, fin=True))
    assert got[0][1] == 0 and tcp._stream == [got[0][0]]


def test_output_true_returns_dumper_and_writes_header(tcp_class, tmp_path):
    tcp = tcp_class(str(tmp_path), 'pcap')
    dumper = tcp.trace(packet(1, '1.1.1.1', 1, '2.2.2.2', 2, timestamp=3.0, protocol=1), output=True)
    assert callable(dumper)
    path = tmp_path / '1.1.1.1_1-2.2.2.2_2-3.0.pcap'
    order = sys.byteorder
    expected = (0xA1B2C3D4).to_bytes(4, order) + (2).to_bytes(2, order) + (4).to_bytes(2, order) \
        + bytes(8) + (262144).to_bytes(4, order) + (1).to_bytes(4, order)
    assert path.read_bytes() == expected
    assert tcp.trace(packet(2, '1.1.1.1', 1, '2.2.2.2', 2), output=True) is dumper


def test_unknown_format_disables_output(tcp_class, tmp_path):
    out = tmp_path / 'made'
    tcp = tcp_class(str(out), 'no-such-format')
    assert out.is_dir()  # the folder is created even so
    tcp.trace(packet(1, '1.1.1.1', 1, '2.2.2.2', 2, timestamp=1.0))
    tcp.trace(packet(2, '3.3.3.3', 1, '2.2.2.2', 2, timestamp=1.0, fin=True))
    assert [i.fpout for i in tcp.submit()] == [None, None]
    assert os.listdir(out) == []


def test_existing_file_as_folder_raises(tcp_class, tmp_path):
    target = tmp_path / 'file'
    target.write_text('x')
    with pytest.raises(FileExistsError):
        tcp_class(str(target), 'pcap')


def test_defaults_fout_and_format(tcp_class, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tcp = tcp_class(None, None)
    assert (tmp_path / 'tmp').is_dir()
    tcp.trace(packet(1, '1.1.1.1', 1, '2.2.2.2', 2, timestamp=1.0))
    assert tcp.submit()[0].fpout == './tmp/1.1.1.1_1-2.2.2.2_2-1.0.pcap'


def test_name_and_protocol(tcp_class, tmp_path):
    tcp = tcp_class(str(tmp_path), 'pcap')
    assert tcp_class.name == 'TCP' and tcp.name == 'TCP'
    assert tcp_class.__protocol_name__ == 'TCP'
    assert tcp.protocol is tcp_class.protocol is tcp_class.__protocol_type__


def test_call_dumps_frame(tcp_class, tmp_path):
    need_pcapkit()
    from pcapkit.protocols.data.misc.pcap.frame import Frame, FrameInfo
    import datetime
    import decimal
    tcp = tcp_class(str(tmp_path), 'pcap')
    info = FrameInfo(ts_sec=1600000000, ts_usec=250000, incl_len=4, orig_len=60)
    frame = Frame(frame_info=info, time=datetime.datetime(2020, 9, 13), number=1,
                  time_epoch=decimal.Decimal('1600000000.25'), len=60, cap_len=4)
    frame.__update__(packet=b'\x01\x02\x03\x04')
    tcp(packet(1, '1.1.1.1', 1, '2.2.2.2', 2, timestamp=1600000000.25, frame=frame))
    data = (tmp_path / '1.1.1.1_1-2.2.2.2_2-1600000000.25.pcap').read_bytes()
    order = sys.byteorder
    record = b''.join(v.to_bytes(4, order) for v in (1600000000, 250000, 4, 60)) + b'\x01\x02\x03\x04'
    assert data[24:] == record


# ------------------------------------------------------------ ours only


def test_index_type_is_pcapkits_when_installed(tmp_path):
    tcp = TCP(str(tmp_path), 'pcap')
    tcp.trace(packet(1, '1.1.1.1', 1, '2.2.2.2', 2, fin=True))
    index = tcp.submit()[0]
    if HAVE_PCAPKIT:
        from pcapkit.foundation.traceflow.data.tcp import Index
        assert type(index) is Index
    assert index['label'] == index.label and dict(index) == {
        'fpout': index.fpout, 'index': (1,), 'label': index.label}


def test_str_and_bytes_addresses_become_ipaddress(tmp_path):
    tcp = TCP(str(tmp_path), 'pcap')
    base = dict(protocol=1, frame=None, syn=False, fin=False, srcport=1, dstport=2, timestamp=1.0)
    tcp.trace(dict(base, index=1, src='10.0.0.1', dst=b'\x0a\x00\x00\x02'))
    tcp.trace(dict(base, index=2, src=ipaddress.ip_address('10.0.0.1'),
                   dst=ipaddress.ip_address('10.0.0.2')))
    tcp.trace(dict(base, index=3, src='2001:db8::1', dst=bytes(15) + b'\x01'))
    buffer = tcp._buffer
    keys = list(buffer)
    assert keys == [
        (ipaddress.IPv4Address('10.0.0.1'), 1, ipaddress.IPv4Address('10.0.0.2'), 2),
        (ipaddress.IPv6Address('2001:db8::1'), 1, ipaddress.IPv6Address('::1'), 2),
    ]
    assert all(isinstance(a, (ipaddress.IPv4Address, ipaddress.IPv6Address))
               for key in keys for a in (key[0], key[2]))
    assert [b.index for b in buffer.values()] == [[1, 2], [3]]


def test_ipv4_and_mapped_ipv6_are_different_flows(tmp_path):
    tcp = TCP(str(tmp_path), None)
    tcp.trace(packet(1, '192.0.2.1', 1, '192.0.2.2', 2))
    tcp.trace(packet(2, '::ffff:192.0.2.1', 1, '::ffff:192.0.2.2', 2))
    assert len(tcp.submit()) == 2


def test_ipv6_scope_ids_are_part_of_the_key(tmp_path):
    tcp = TCP(str(tmp_path), 'no-output')
    tcp.trace(packet(1, 'fe80::1%eth0', 1, 'fe80::2', 2, timestamp=1.0))
    tcp.trace(packet(2, 'fe80::1%eth1', 1, 'fe80::2', 2, timestamp=1.0))
    tcp.trace(packet(3, 'fe80::1%eth0', 1, 'fe80::2', 2, timestamp=1.0))
    assert [(i.label, i.index) for i in tcp.submit()] == [
        ('fe80..1%eth0_1-fe80..2_2-1.0', (1, 3)), ('fe80..1%eth1_1-fe80..2_2-1.0', (2,))]


@pytest.mark.parametrize('field, value, error, words', [
    ('src', None, TypeError, 'src'),
    ('src', 'not-an-address', ValueError, 'src'),
    ('dst', b'\x01\x02\x03', ValueError, 'dst'),
    ('srcport', 65536, ValueError, 'srcport'),
    ('srcport', -1, ValueError, 'srcport'),
    ('dstport', '80', TypeError, 'dstport'),
    ('dstport', 1.5, TypeError, 'dstport'),
    ('index', -3, ValueError, 'index'),
    ('index', 'x', TypeError, 'index'),
    ('timestamp', 'soon', TypeError, 'timestamp'),
])
def test_bad_fields_raise_and_leave_state(tmp_path, field, value, error, words):
    tcp = TCP(str(tmp_path), 'pcap')
    tcp.trace(packet(1, '1.1.1.1', 1, '2.2.2.2', 2, timestamp=1.0))
    before = tcp.submit()
    bad = dict(protocol=1, index=2, frame=None, syn=False, fin=True, src='9.9.9.9', srcport=1,
               dst='2.2.2.2', dstport=2, timestamp=1.0)
    bad[field] = value
    with pytest.raises(error, match=words):
        tcp.trace(bad)
    assert tcp.submit() is before
    assert os.listdir(tmp_path) == ['1.1.1.1_1-2.2.2.2_2-1.0.pcap']


@pytest.mark.parametrize('missing', ['src', 'dst', 'srcport', 'dstport', 'fin', 'index',
                                     'timestamp', 'protocol'])
def test_missing_fields_name_the_field(tmp_path, missing):
    tcp = TCP(str(tmp_path), 'pcap')
    pkt = dict(protocol=1, index=2, frame=None, syn=False, fin=False, src='9.9.9.9', srcport=1,
               dst='2.2.2.2', dstport=2, timestamp=1.0)
    del pkt[missing]
    with pytest.raises(TypeError, match=missing):
        tcp.trace(pkt)
    assert tcp.submit() == ()


def test_object_with_attributes_is_accepted(tmp_path):
    class Pkt:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    class Slotted:
        __slots__ = ('protocol', 'index', 'frame', 'syn', 'fin', 'src', 'dst', 'srcport',
                     'dstport', 'timestamp')

        def __init__(self, **kw):
            for k, v in kw.items():
                setattr(self, k, v)

    tcp = TCP(str(tmp_path), None)
    fields = dict(protocol=1, frame=None, syn=False, fin=False, src=ipaddress.ip_address('1.1.1.1'),
                  dst=ipaddress.ip_address('2.2.2.2'), srcport=1, dstport=2, timestamp=1.0)
    tcp.trace(Pkt(index=1, **fields))
    tcp.trace(Slotted(index=2, **fields))
    assert tcp.submit()[0].index == (1, 2)


def test_property_fields_are_read_through_getattr(tmp_path):
    class Pkt:
        protocol, frame, syn, fin, srcport, dstport, timestamp = 1, None, False, False, 1, 2, 1.0
        src, dst = ipaddress.ip_address('1.1.1.1'), ipaddress.ip_address('2.2.2.2')

        def __init__(self, n):
            self.__dict__['index'] = 999  # shadowed by the property below
            self._n = n

        @property
        def index(self):
            return self._n

    tcp = TCP(str(tmp_path), None)
    tcp.trace(Pkt(7))
    assert tcp.submit()[0].index == (7,)


def test_callback_error_propagates_like_pcapkit(tmp_path):
    class T(TCP):
        pass

    def boom(index):
        raise RuntimeError('callback failed')

    T.register_callback(boom)
    tcp = T(str(tmp_path), 'pcap')
    with pytest.raises(RuntimeError):
        tcp.trace(packet(1, '1.1.1.1', 1, '2.2.2.2', 2, fin=True))
    # as in pcapkit: the flow had left the buffer, the Index never reached _stream
    assert tcp.submit() == ()


def test_register_dumper_and_registry_shared(tmp_path):
    base = pcapkit_tcpflow._compat.dictdumper_base()
    if base is None:
        pytest.skip('dictdumper is not installed')

    class Lines(base):
        @property
        def kind(self):
            return 'lines'

        def __init__(self, fname, **kwargs):
            self._file = fname
            open(fname, 'w').close()

        def __call__(self, value, name=None):
            with open(self._file, 'a') as f:
                f.write(f'{name}\n')
            return self

        def _append_value(self, value, file, name):
            pass

    class T(TCP):
        pass

    T.register_dumper('lines', Lines, '.lines')
    try:
        tcp = T(str(tmp_path), 'lines')
        p = packet(4, '1.1.1.1', 1, '2.2.2.2', 2, timestamp=1.0)
        tcp.dump(p)
        assert (tmp_path / '1.1.1.1_1-2.2.2.2_2-1.0.lines').read_text() == 'Frame 4\n'
        if HAVE_PCAPKIT:
            from pcapkit.foundation.traceflow.traceflow import TraceFlowBase
            assert TraceFlowBase.__output__['lines'] == (Lines, '.lines')
        with pytest.raises(TypeError):
            T.register_dumper('bad', int, '.x')
    finally:
        del TCP.__output__['lines']


def test_text_format_works_unlike_pcapkit(tmp_path):
    """Deviation: pcapkit's 'text' format names dictdumper.Text, which does not
    exist (AttributeError at construction); ours writes Tree files as 'txt'."""
    need_pcapkit()
    from pcapkit.foundation.traceflow.tcp import TCP as PcapkitTCP
    with pytest.raises(AttributeError, match='Text'):
        PcapkitTCP(str(tmp_path / 'theirs'), 'text')
    tcp = TCP(str(tmp_path / 'ours'), 'text')
    tcp.trace(packet(1, '1.1.1.1', 1, '2.2.2.2', 2, timestamp=1.0))
    assert tcp.submit()[0].fpout.endswith('/1.1.1.1_1-2.2.2.2_2-1.0.txt')


def test_one_tracer_shared_by_threads(tmp_path):
    """Threads share one tracer whose dumper creation lets go of the GIL:
    every packet is counted once, each key has one flow (run in a child
    with a timeout, so a deadlock fails instead of hanging)."""
    import subprocess
    import textwrap
    code = textwrap.dedent(f"""
        import ipaddress, threading, time
        from pcapkit_tcpflow import TCP

        class Slow(TCP):
            def _open_flow(self, label, protocol):
                time.sleep(0.001)   # other threads run meanwhile
                return super()._open_flow(label, protocol)

        tcp = Slow({str(tmp_path)!r}, 'none')
        dst = ipaddress.ip_address('10.0.0.1')
        srcs = [ipaddress.ip_address(f'10.1.0.{{i}}') for i in range(20)]

        def work(t):
            for n in range(2000):
                tcp.trace(dict(protocol=1, index=t * 10000 + n, frame=None, syn=False,
                               fin=False, src=srcs[n % 20], dst=dst, srcport=1, dstport=2,
                               timestamp=1.0))

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads: th.start()
        for th in threads: th.join()
        flows = tcp.submit()
        print(len(flows), sum(len(f.index) for f in flows),
              len({{f.label for f in flows}}))
    """)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['20', '8000', '20']


def test_trace_from_own_dumper_is_refused(tmp_path):
    class Reentrant(TCP):
        def _open_flow(self, label, protocol):
            return self.trace(packet(99, '9.9.9.9', 9, '8.8.8.8', 8))

    tcp = Reentrant(str(tmp_path), 'pcap')
    with pytest.raises(RuntimeError, match='again'):
        tcp.trace(packet(1, '1.1.1.1', 1, '2.2.2.2', 2))
    assert tcp.submit() == ()
    # the tracer is usable afterwards
    TCP(str(tmp_path), 'pcap').trace(packet(2, '1.1.1.1', 1, '2.2.2.2', 2))


def test_frame_numbers_beyond_32_bits(tmp_path):
    """Frame numbers are 64-bit in the core: a capture of more than 2**32
    frames, simulated by its numbers."""
    tcp = TCP(str(tmp_path), 'none')
    big = [2**32 - 1, 2**32, 2**40 + 7, 2**64 - 1]
    for n in big:
        tcp.trace(packet(n, '1.1.1.1', 1, '2.2.2.2', 2, timestamp=1.0))
    assert tcp.submit()[0].index == tuple(big)
    with pytest.raises(ValueError, match='index'):
        tcp.trace(packet(2**64, '1.1.1.1', 1, '2.2.2.2', 2))
