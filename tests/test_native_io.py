"""The native path as a user meets it: bad inputs, unwritable output,
thousands of concurrent flows under a small file-descriptor limit, Ctrl-C,
two threads, file objects."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

import pcapkit_tcpflow
from capread import read_flow_file
from pcapbuild import SYN, FIN, ACK, sample_frames, tcp_frame, write_pcap

A, B = '192.0.2.1', '198.51.100.2'
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, 'examples', 'sample.pcap')


def run(path, out=None, **kw):
    return pcapkit_tcpflow.extract(path, nofile=True, trace=True, tcp=True,
                                   trace_fout=None if out is None else str(out), **kw)


def test_sample_is_what_the_builder_writes(tmp_path):
    write_pcap(str(tmp_path / 's.pcap'), sample_frames())
    assert (tmp_path / 's.pcap').read_bytes() == open(SAMPLE, 'rb').read()


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        run(tmp_path / 'nope.pcap', tmp_path)


def test_directory(tmp_path):
    with pytest.raises(IsADirectoryError):
        run(tmp_path, tmp_path / 'out')


@pytest.mark.parametrize('content', [b'', b'hello, this is a text file\n' * 10])
def test_not_a_capture(tmp_path, content):
    path = tmp_path / 'x.pcap'
    path.write_bytes(content)
    with pytest.raises(pcapkit_tcpflow.FormatError):
        run(path, tmp_path / 'out')


def test_unknown_link_type_traces_nothing(tmp_path):
    path = tmp_path / 'lt.pcap'
    write_pcap(str(path), [(1, 0, b'\x00' * 60)] * 3, linktype=147)
    result = run(path, tmp_path / 'out')
    assert result.length == 3 and result.trace.tcp == () and result.header['linktype'] == 147


def test_unwritable_output_folder(tmp_path):
    if os.geteuid() == 0:
        # root writes anywhere: make the folder path an existing file instead
        target = tmp_path / 'file'
        target.write_text('x')
        with pytest.raises(FileExistsError):
            run(SAMPLE, target)
        return
    out = tmp_path / 'ro'
    out.mkdir()
    out.chmod(0o500)
    with pytest.raises(PermissionError):
        run(SAMPLE, out)


def test_output_file_unwritable_midway_keeps_earlier_files(tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    # a folder squatting on a later flow's file name makes its creation fail
    (out / '192.0.2.10_49153-198.51.100.7_80-1700000001.0.pcap').mkdir()
    with pytest.raises(OSError, match='49153'):
        run(SAMPLE, out)
    header, records = read_flow_file(str(out / '192.0.2.10_49152-198.51.100.7_80-1700000000.0.pcap'))
    assert len(records) == 4  # written and closed before the failure


def test_file_object_and_stream(tmp_path):
    want = run(SAMPLE, tmp_path / 'a').trace.tcp
    with open(SAMPLE, 'rb') as f:
        got = run(f, tmp_path / 'b').trace.tcp
    stream = io.BytesIO(open(SAMPLE, 'rb').read())
    got2 = run(stream, tmp_path / 'c').trace.tcp
    strip = lambda flows, d: [(i.label, i.index, os.path.relpath(i.fpout, d)) for i in flows]
    assert strip(got, tmp_path / 'b') == strip(want, tmp_path / 'a') == strip(got2, tmp_path / 'c')


def test_truncated_capture_warns_and_keeps_flows(tmp_path):
    data = open(SAMPLE, 'rb').read()
    path = tmp_path / 'cut.pcap'
    path.write_bytes(data[:-20])
    with pytest.warns(pcapkit_tcpflow.TruncatedCaptureWarning, match='truncated'):
        result = run(path, tmp_path / 'out')
    assert result.length == 80 and len(result.trace.tcp) == 30


def test_nanosecond_and_big_endian_output(tmp_path):
    result = run(SAMPLE, tmp_path, trace_byteorder='big', trace_nanosecond=True)
    flow = result.trace.tcp[-1]
    data = open(flow.fpout, 'rb').read()
    assert data[:4] == b'\xa1\xb2\x3c\x4d'
    import struct
    sec, nsec = struct.unpack('>II', data[24:32])
    assert (sec, nsec) == (1700000005, 125000000)


def test_many_concurrent_flows_with_few_file_descriptors(tmp_path):
    """5,000 flows open at once, under ulimit -n 64: files are closed and
    reopened for appending, none is lost or cut."""
    path = tmp_path / 'many.pcap'
    frames = []
    for rnd in range(3):
        for i in range(5000):
            flags = SYN if rnd == 0 else (FIN | ACK if rnd == 2 else ACK)
            frames.append((1_700_000_000 + rnd, i, tcp_frame(
                f'10.{i >> 8}.{i & 255}.1', '192.0.2.1', 1024 + i, 80, flags)))
    write_pcap(str(path), frames)
    code = textwrap.dedent(f'''
        import resource, pcapkit_tcpflow
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        r = pcapkit_tcpflow.extract({str(path)!r}, nofile=True, trace=True, tcp=True,
                                    trace_fout={str(tmp_path / 'out')!r})
        print(len(r.trace.tcp), r.length)
    ''')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['5000', '15000']
    files = os.listdir(tmp_path / 'out')
    assert len(files) == 5000
    for name in files[:200] + files[-200:]:
        _, records = read_flow_file(str(tmp_path / 'out' / name))
        assert [r[1] for r in records] == [records[0][1]] * 3  # the 3 packets, in order


def _big_capture(path, packets):
    frame = tcp_frame('10.0.0.1', '10.0.0.2', 1000, 80, ACK)
    with open(path, 'wb') as f:
        import struct
        f.write(struct.pack('<IHHiIII', 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        rec = struct.pack('<IIII', 1, 0, len(frame), len(frame)) + frame
        chunk = rec * 10000
        for _ in range(packets // 10000):
            f.write(chunk)


def test_ctrl_c_interrupts_promptly(tmp_path):
    path = tmp_path / 'big.pcap'
    _big_capture(path, 3_000_000)
    code = textwrap.dedent(f'''
        import sys, time, pcapkit_tcpflow
        print('start', flush=True)
        t = time.monotonic()
        try:
            pcapkit_tcpflow.extract({str(path)!r}, nofile=True, trace=True, tcp=True,
                                    trace_fout={str(tmp_path / 'out')!r})
            print('finished', flush=True)
        except KeyboardInterrupt:
            print('interrupted', time.monotonic() - t, flush=True)
    ''')
    proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'start'
    time.sleep(0.3)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    waited = time.monotonic() - sent
    if out.startswith('finished'):
        pytest.fail('the run finished before the signal; make the capture bigger')
    assert out.startswith('interrupted'), out
    assert waited < 1.5
    # the flow file holds whole records only
    flows = os.listdir(tmp_path / 'out')
    assert len(flows) == 1
    read_flow_file(str(tmp_path / 'out' / flows[0]))


def test_two_threads_trace_two_files(tmp_path):
    import threading
    paths = []
    for n in range(2):
        p = tmp_path / f'{n}.pcap'
        _big_capture(p, 400_000)
        paths.append(p)
    results = {}

    def work(n):
        results[n] = run(paths[n], tmp_path / f'out{n}')

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(results[n].length == 400_000 and len(results[n].trace.tcp) == 1 for n in range(2))


def test_pcapng_times_ignore_local_timezone(corpus):
    """pcapkit adds the local UTC offset to pcapng times; we do not."""
    path = corpus / 'synthetic' / 'syn_pcapng_two_sections.pcapng'
    code = ('import pcapkit_tcpflow as p; r = p.extract(%r, nofile=True, trace=True, tcp=True, '
            'trace_format="none"); print([f.label for f in r.trace.tcp])' % str(path))
    labels = {tz: subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                                 env=dict(os.environ, TZ=tz), timeout=60).stdout
              for tz in ('UTC', 'Asia/Tokyo')}
    assert labels['UTC'] == labels['Asia/Tokyo'] and '1600000000.0' in labels['UTC']


def test_full_disk_keeps_whole_records_and_the_flows_found(tmp_path):
    """A 256 KiB file system fills up during the run: OSError (ENOSPC) with
    the flows found so far attached; every file holds whole records."""
    import errno
    mount = tmp_path / 'small'
    mount.mkdir()
    done = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f'cannot mount a small tmpfs here: {done.stderr.decode().strip()}')
    try:
        path = tmp_path / 'big.pcap'
        frames = [(1_700_000_000, i, tcp_frame(f'10.0.{i % 50}.1', '192.0.2.1', 1024 + i % 50, 80,
                                                ACK, payload=b'z' * 1400))
                  for i in range(2000)]
        write_pcap(str(path), frames)
        with pytest.raises(OSError) as info:
            run(path, mount)
        assert info.value.errno == errno.ENOSPC
        found = info.value.extraction
        assert found.length == 2000 and len(found.trace.tcp) == 50
        for name in os.listdir(mount):
            read_flow_file(str(mount / name))  # whole records only
    finally:
        umounted = subprocess.run(['umount', str(mount)], capture_output=True)
    # nothing of ours stays open on the file system (the result is still alive)
    assert umounted.returncode == 0, umounted.stderr.decode()


@pytest.mark.parametrize('caplen', [2**31, 2**32 - 1, 300_000])
def test_absurd_record_length_stops_with_a_warning(tmp_path, caplen):
    import struct
    path = tmp_path / 'absurd.pcap'
    good = tcp_frame(A, B, 1, 2, SYN)
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.write(struct.pack('<IIII', 1, 0, len(good), len(good)) + good)
        f.write(struct.pack('<IIII', 2, 0, caplen, caplen) + bytes(64))
    with pytest.warns(pcapkit_tcpflow.TruncatedCaptureWarning):
        result = run(path, tmp_path / 'out')
    assert result.length == 1 and len(result.trace.tcp) == 1


def test_absurd_pcapng_block_length_stops_with_a_warning(tmp_path):
    import struct
    path = tmp_path / 'absurd.pcapng'
    shb = struct.pack('<IIIHHq', 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack('<I', 28)
    idb = struct.pack('<IIHHI', 1, 20, 1, 0, 0) + struct.pack('<I', 20)
    path.write_bytes(shb + idb + struct.pack('<II', 6, 0x7FFFFFF0) + bytes(100))
    with pytest.warns(pcapkit_tcpflow.TruncatedCaptureWarning, match='corrupt'):
        result = run(path, tmp_path / 'out')
    assert result.length == 0


def test_existing_files_in_the_output_folder(tmp_path):
    """A file already named like a flow is replaced, as pcapkit replaces it;
    other files are left alone."""
    out = tmp_path / 'out'
    out.mkdir()
    name = '192.0.2.10_49152-198.51.100.7_80-1700000000.0.pcap'
    (out / name).write_bytes(b'old content' * 1000)
    (out / 'notes.txt').write_text('keep me')
    result = run(SAMPLE, out)
    _, records = read_flow_file(str(out / name))
    flow = next(f for f in result.trace.tcp if f.fpout.endswith(name))
    assert len(records) == len(flow.index)
    assert (out / 'notes.txt').read_text() == 'keep me'


@pytest.mark.parametrize('name', sorted(n for n in os.listdir(
    os.path.join(ROOT, 'tests', 'regressions')) if n != 'README'))
def test_regression_inputs(tmp_path, name):
    """Inputs the fuzzers found: a result or a clear error, never a crash."""
    path = os.path.join(ROOT, 'tests', 'regressions', name)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            result = run(path, tmp_path / 'out')
        except pcapkit_tcpflow.FormatError:
            return
    for flow in result.trace.tcp:
        read_flow_file(flow.fpout)


def test_no_descriptor_stays_open_in_the_output_folder(tmp_path):
    """Flow files are opened relative to a descriptor of the output folder;
    once extract() returns, nothing of ours is open there (the folder can be
    unmounted or removed) though the result keeps its session for .stats."""
    if not os.path.isdir('/proc/self/fd'):
        pytest.skip('no /proc/self/fd here')
    out = tmp_path / 'out'
    ext = run(SAMPLE, out)
    assert len(os.listdir(out)) == len(ext.trace.tcp) > 1

    def open_in_out():
        found = []
        for fd in os.listdir('/proc/self/fd'):
            try:
                target = os.readlink(f'/proc/self/fd/{fd}')
            except OSError:
                continue
            if target == str(out) or target.startswith(str(out) + os.sep):
                found.append(target)
        return found

    assert open_in_out() == []
    assert len(ext.stats) == len(ext.trace.tcp)  # the session is still usable
    assert open_in_out() == []
