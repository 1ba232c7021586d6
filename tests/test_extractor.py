"""pcapkit's Extractor with pcapkit_tcpflow's tracer installed.

Every capture of ../shared/corpus/real/ is traced twice in this process, by
pcapkit as shipped and with install(): the flows must be equal, and equal to
pcapkit's recorded results.  The per-flow pcap files are checked against
models built from the input capture.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import time

import pytest

from conftest import CORPUS, need_pcapkit, pcapkit_run

need_pcapkit()

import pcapkit  # noqa: E402
from pcapkit.foundation.extraction import Extractor  # noqa: E402

import pcapkit_tcpflow  # noqa: E402

os.environ['TZ'] = 'UTC'  # pcapkit adds the local UTC offset to pcapng times
time.tzset()

# Without the corpus one placeholder case asks the `corpus` fixture, which
# skips (or fails in CI) instead of pytest silently dropping the test.
REAL = sorted(p.name for p in (CORPUS / 'real').iterdir()) if (CORPUS / 'real').is_dir() \
    else ['corpus-missing']


def run_extract(path, out, **options):
    """pcapkit's Extractor reading and dissecting, our tracer tracing.
    store=True keeps install() from running it natively (which
    test_installed_extract_runs_natively_when_it_can and test_native.py
    cover): this is the drop-in tracer's test."""
    return Extractor(fin=str(path), nofile=True, store=True, trace=True, tcp=True,
                     trace_fout=str(out), **options)


def test_install_and_uninstall():
    import pcapkit.interface
    import pcapkit.interface.core
    original = Extractor.__traceflow__['tcp']
    original_extract = pcapkit.extract
    assert not pcapkit_tcpflow.is_installed()
    pcapkit_tcpflow.install()
    try:
        assert Extractor.__traceflow__['tcp'] is pcapkit_tcpflow.TCP
        assert pcapkit.extract is pcapkit.interface.extract is pcapkit.interface.core.extract
        assert pcapkit.extract is not original_extract
        assert pcapkit_tcpflow.is_installed()
        pcapkit_tcpflow.install()  # idempotent
    finally:
        pcapkit_tcpflow.uninstall()
    assert Extractor.__traceflow__['tcp'] is original
    assert pcapkit.extract is pcapkit.interface.extract is pcapkit.interface.core.extract \
        is original_extract
    assert not pcapkit_tcpflow.is_installed()


def test_installed_extract_runs_natively_when_it_can(corpus, tmp_path):
    path = corpus / 'real' / 'pcpp__one_tcp_stream.pcap'
    theirs, root = pcapkit_run(path)
    pcapkit_tcpflow.install()
    try:
        native = pcapkit.extract(fin=str(path), nofile=True, trace=True, tcp=True,
                                 trace_fout=str(tmp_path / 'n'))
        # reassembly needs pcapkit: it runs pcapkit's Extractor, with our tracer
        other = pcapkit.extract(fin=str(path), nofile=True, trace=True, tcp=True,
                                reassembly=True, trace_fout=str(tmp_path / 'p'))
        # the class, with store=False: runs natively and fills the object
        direct = Extractor(fin=str(path), nofile=True, store=False, trace=True, tcp=True,
                           trace_fout=str(tmp_path / 'd'))
    finally:
        pcapkit_tcpflow.uninstall()
    assert Extractor.run.__name__ == 'run' and not hasattr(Extractor.run, '__pcapkit_tcpflow__')
    # true frames in the files, unlike pcapkit's run (PCAPKIT_SEMANTICS fact 36)
    from capread import read_capture, read_flow_file
    records = read_capture(str(path))
    for flow in direct.trace.tcp:
        _, written = read_flow_file(flow.fpout)
        assert [w[4] for w in written] == [records[n - 1].data for n in flow.index]
    assert isinstance(native, pcapkit_tcpflow.Extraction)
    assert isinstance(other, Extractor)
    want = [(i.label, i.index, os.path.relpath(i.fpout, root)) for i in theirs.trace.tcp]
    for result, sub in ((native, 'n'), (other, 'p'), (direct, 'd')):
        assert [(i.label, i.index, os.path.relpath(i.fpout, tmp_path / sub))
                for i in result.trace.tcp] == want
        assert result.length == theirs.length


def test_register_traceflow_accepts_our_class():
    from pcapkit.foundation.traceflow.traceflow import TraceFlow
    assert issubclass(pcapkit_tcpflow.TCP, TraceFlow)
    saved = dict(Extractor.__traceflow__)
    try:
        Extractor.register_traceflow('tcp', pcapkit_tcpflow.TCP)
        assert Extractor.__traceflow__['tcp'] is pcapkit_tcpflow.TCP
    finally:
        Extractor.__traceflow__.clear()
        Extractor.__traceflow__.update(saved)


def test_import_alone_changes_nothing_in_pcapkit(tmp_path):
    import subprocess
    import sys
    code = ('import pcapkit.foundation.extraction as e; before = dict(e.Extractor.__traceflow__); '
            'import pcapkit_tcpflow; assert dict(e.Extractor.__traceflow__) == before, '
            '(before, e.Extractor.__traceflow__); print("ok")')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == 'ok', out.stderr


def _records(data, order):
    """(raw16, ts_sec, ts_frac, incl_len, orig_len, end) of each record, read
    the way pcapkit reads them (little-endian headers)."""
    off = 24
    while off + 16 <= len(data):
        raw = data[off:off + 16]
        sec, frac, incl, orig = struct.unpack(order + 'IIII', raw)
        end = off + 16 + incl
        yield raw, sec, frac, incl, orig, end
        off = end


def _models(data, flows):
    """pcapkit's and our expected flow files for a little-endian pcap input.

    pcapkit (PCAPKIT_SEMANTICS fact 36) writes each record's header verbatim
    followed by the incl_len bytes that FOLLOW the record in the input; it
    hands the same bytes to the tracer, and our writer stores them with a
    matching incl_len (and the fraction converted to microseconds when the
    input is in nanoseconds).
    """
    nsec = data[:4] == b'\x4d\x3c\xb2\xa1'
    network = struct.unpack('<I', data[20:24])[0]
    head = struct.pack('<IHHiIII', 0xA1B2C3D4, 2, 4, 0, 0, 262144, network)
    theirs, ours = {}, {}
    for num, (raw, sec, frac, incl, orig, end) in enumerate(_records(data, '<'), 1):
        shifted = data[end:end + incl]
        theirs[num] = raw + shifted
        if nsec:
            sec, frac = sec + frac // 10**9, (frac % 10**9) // 1000
        else:
            sec, frac = sec + frac // 10**6, frac % 10**6
        ours[num] = struct.pack('<IIII', sec, frac, len(shifted), orig) + shifted
    return ({f.label: head + b''.join(theirs[i] for i in f.index) for f in flows},
            {f.label: head + b''.join(ours[i] for i in f.index) for f in flows})


def _well_formed(data):
    """Number of records of a pcap file, asserting they exactly fill it."""
    order = '<' if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    count, off = 0, 24
    while off < len(data):
        assert off + 16 <= len(data)
        incl = struct.unpack(order + 'I', data[off + 8:off + 12])[0]
        off += 16 + incl
        count += 1
    assert off == len(data)
    return count


@pytest.mark.parametrize('name', REAL)
def test_real_capture_matches_pcapkit(corpus, tmp_path, name):
    path = corpus / 'real' / name
    expected = json.loads((corpus / 'expected' / f'{name}.json').read_text())
    theirs, root_t = pcapkit_run(path)
    pcapkit_tcpflow.install()
    try:
        ours = run_extract(path, tmp_path / 'ours')
    finally:
        pcapkit_tcpflow.uninstall()

    root_o = str(tmp_path / 'ours')
    assert type(ours.trace.tcp[0]) is type(theirs.trace.tcp[0]) if theirs.trace.tcp else True
    assert [(i.label, i.index, i.fpout.replace(root_o, 'R')) for i in ours.trace.tcp] == \
        [(i.label, i.index, i.fpout.replace(root_t, 'R')) for i in theirs.trace.tcp]
    assert ours.length == theirs.length == expected['frames']
    assert [(i.label, list(i.index), os.path.relpath(i.fpout, root_o)) for i in ours.trace.tcp] == \
        [(f['label'], f['index'], f['fpout']) for f in expected['flows']]

    data = path.read_bytes()
    little_pcap = data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1')
    if little_pcap:
        model_theirs, model_ours = _models(data, ours.trace.tcp)
    for flow_o, flow_t, rec in zip(ours.trace.tcp, theirs.trace.tcp, expected['flows']):
        mine = open(flow_o.fpout, 'rb').read()
        pk = open(flow_t.fpout, 'rb').read()
        assert hashlib.sha256(pk).hexdigest() == rec['pcap_sha256']
        assert mine[:24] == pk[:24]  # global header: pcapkit's fields exactly
        if little_pcap:
            assert pk == model_theirs[flow_o.label]  # the model is pcapkit's writer
            assert mine == model_ours[flow_o.label]
        else:
            # one file per label: a reused label (fact 7) holds the later flow only
            same = [f for f in ours.trace.tcp if f.label == flow_o.label]
            assert _well_formed(mine) == len(same[-1].index)


def test_uninstall_restores_an_absent_tcp_entry(monkeypatch):
    """When pcapkit had no 'tcp' tracer entry, uninstall() removes ours again
    (and a second install() does not take ours for pcapkit's)."""
    monkeypatch.setattr(Extractor, '__traceflow__', {
        k: v for k, v in Extractor.__traceflow__.items() if k != 'tcp'})
    pcapkit_tcpflow.install()
    pcapkit_tcpflow.install()
    assert Extractor.__traceflow__['tcp'] is pcapkit_tcpflow.TCP
    pcapkit_tcpflow.uninstall()
    assert 'tcp' not in Extractor.__traceflow__
    assert not pcapkit_tcpflow.is_installed()
