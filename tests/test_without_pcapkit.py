"""pcapkit_tcpflow without pcapkit (and without dictdumper): run in a child
interpreter where importing either fails."""
from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent('''
    import importlib.abc, sys, warnings, ipaddress, os, struct, tempfile, decimal

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split('.')[0] in ('pcapkit', 'dictdumper'):
                raise ImportError(f'blocked: {name}')
            return None

    sys.meta_path.insert(0, Block())
    import pcapkit_tcpflow
    from pcapkit_tcpflow import TCP, Index
    from pcapkit_tcpflow.index import Index as OwnIndex
    assert not pcapkit_tcpflow.HAVE_PCAPKIT
    assert Index is OwnIndex
    assert 'pcapkit' not in sys.modules and 'dictdumper' not in sys.modules

    out = tempfile.mkdtemp()
    tcp = TCP(out, 'pcap')
    def pkt(n, fin=False, ts=1600000000.5, src='10.0.0.1'):
        frame = {'packet': bytes([n]) * 10,
                 'frame_info': {'ts_sec': 1600000000, 'ts_usec': 500000, 'incl_len': 10, 'orig_len': 60},
                 'time_epoch': decimal.Decimal('1600000000.5')}
        return dict(protocol=1, index=n, frame=frame, syn=False, fin=fin,
                    src=ipaddress.ip_address(src), dst=ipaddress.ip_address('10.0.0.2'),
                    srcport=1, dstport=2, timestamp=ts)
    class P(dict):
        __getattr__ = dict.__getitem__
    tcp(P(pkt(1)))
    tcp(P(pkt(2, fin=True)))
    tcp(P(pkt(3, src='10.0.0.3')))
    res = tcp.submit()
    label = '10.0.0.1_1-10.0.0.2_2-1600000000.5'
    assert [i.index for i in res] == [(3,), (1, 2)], res
    closed = res[1]
    assert closed == Index(fpout=f'{out}/{label}.pcap', index=(1, 2), label=label)
    assert closed == {'fpout': f'{out}/{label}.pcap', 'index': (1, 2), 'label': label}
    assert closed['label'] == label and list(closed) == ['fpout', 'index', 'label']
    assert repr(closed) == f"<Index fpout='{out}/{label}.pcap', index=(1, 2), label='{label}'>"
    data = open(f'{out}/{label}.pcap', 'rb').read()
    assert len(data) == 24 + 2 * 26
    rec = struct.unpack('<IIII', data[24:40]) if sys.byteorder == 'little' else struct.unpack('>IIII', data[24:40])
    assert rec == (1600000000, 500000, 10, 60), rec
    assert data[40:50] == bytes([1]) * 10
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        TCP(out, 'no-such-format')
    assert any('Unsupported output format' in str(w.message) for w in caught), caught
    try:
        TCP(out, 'json')
    except ImportError as error:
        assert 'dictdumper' in str(error)
    else:
        raise AssertionError('json without dictdumper should fail')
    try:
        pcapkit_tcpflow.install()
    except ImportError as error:
        assert 'pypcapkit' in str(error)
    else:
        raise AssertionError('install() without pcapkit should fail')
    print('ok')
''')


def test_works_without_pcapkit():
    out = subprocess.run([sys.executable, '-c', CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == 'ok', out.stderr
