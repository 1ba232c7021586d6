"""Limits as a user meets them: captures past 4 GiB, frame numbers past
2**32, a capture that grows while it is read.

The 4 GiB captures are real files read byte by byte; they are sparse (each
record is a frame followed by zero padding the file system stores as a
hole), so they take ~64 MiB of disk.  2**32 frames and 2**24 flows are not
run here (minutes and gigabytes): ``tests/bigcapture.py`` writes those
inputs and the README reports the development runs; here the frame counter
is started near 2**32 instead (a test hook of the Session).
"""
from __future__ import annotations

import os
import struct
import threading
import time
import warnings

import pytest

import bigcapture
import pcapbuild
from pcapkit_tcpflow import TruncatedCaptureWarning, _core, extract

FOUR_GIB = 1 << 32
SAMPLE = os.path.join(os.path.dirname(__file__), '..', 'examples', 'sample.pcap')


def _trace(path, **options):
    if 'trace_fout' not in options:
        options['flow_files'] = False
    return extract(fin=str(path), nofile=True, store=False, trace=True, tcp=True, **options)


def _flows(result):
    return [(index.label, tuple(index.index)) for index in result.trace.tcp]


def _round_robin(count, flows):
    """count frames cycling over flows SYN/ACK flows; flow k has frames k+1, k+1+flows, ..."""
    frames = []
    for i in range(count):
        k = i % flows
        flags = pcapbuild.SYN if i < flows else pcapbuild.ACK
        frames.append((1_600_000_000 + i, 0, pcapbuild.tcp_frame(
            f'10.0.{k >> 8}.{k & 255}', '192.0.2.7', 20000 + k, 443, flags, seq=i)))
    return frames


@pytest.mark.parametrize('kind', ['pcap', 'pcapng'])
def test_capture_larger_than_4_gib(tmp_path, kind):
    flows = 37
    if kind == 'pcap':
        record = 262144  # libpcap's largest record for Ethernet
        count = FOUR_GIB // (16 + record) + 40
        frames = _round_robin(count, flows)
        size = bigcapture.spaced_pcap(str(tmp_path / 'big.pcap'), frames, record)
    else:
        body = 16 << 20
        count = FOUR_GIB // (32 + body) + 3
        frames = _round_robin(count, flows)
        size = bigcapture.spaced_pcapng(str(tmp_path / 'big.pcap'), frames, body)
    assert size > FOUR_GIB + 4 * 262144
    assert os.stat(tmp_path / 'big.pcap').st_blocks * 512 < 200 << 20  # sparse indeed
    pcapbuild.write_pcap(str(tmp_path / 'small.pcap'), frames)

    big = _trace(tmp_path / 'big.pcap')
    small = _trace(tmp_path / 'small.pcap')

    assert big.length == small.length == count
    assert _flows(big) == _flows(small)
    # hand-computed: flow k (in order of first packet) has frames k+1, k+1+37, ...
    assert [frames for _, frames in _flows(big)] == \
        [tuple(range(k + 1, count + 1, flows)) for k in range(flows)]
    # the last records start past 4 GiB
    assert size - 4 * (16 + 262144) > FOUR_GIB


def test_frame_numbers_past_2_32():
    """Frame numbers are 64-bit end to end: the counter starts at 2**32 - 3."""
    def run(frames_before):
        session = _core.Session(SAMPLE, 0, None, '', False, False, 1, False, 1,
                                False, 0, frames_before)
        while session.step(1000) == 0:
            pass
        session.finish()
        return session.frames, [(label, frames) for label, frames, *_ in session.flows()]

    base = FOUR_GIB - 3
    frames0, flows0 = run(0)
    frames1, flows1 = run(base)
    assert frames1 == base + frames0
    assert frames0 > 3
    assert [label for label, _ in flows1] == [label for label, _ in flows0]
    assert [tuple(n - base for n in frames) for _, frames in flows1] == \
        [tuple(frames) for _, frames in flows0]
    assert max(max(frames) for _, frames in flows1) > FOUR_GIB


def _record_bytes(frames):
    return b''.join(struct.pack('<IIII', sec, usec, len(data), len(data)) + data
                    for sec, usec, data in frames)


@pytest.mark.parametrize('chunk', [1, 333, 4096, 65536])
def test_capture_growing_while_read(tmp_path, chunk):
    """A writer appends (in chunks that split records) while extract() reads.

    extract() reads up to the end of file it meets: the result must be that
    of a prefix of the records, a record cut by the end warns, and every
    flow file holds whole records of that prefix.
    """
    frames = _round_robin(6000, 50)
    header = bigcapture._pcap_header(65535)
    body = _record_bytes(frames)
    path = tmp_path / 'growing.pcap'
    first = 3 * 70 + 40  # three records and part of the fourth
    with open(path, 'wb') as fp:
        fp.write(header + body[:first])
    done = threading.Event()

    def writer():
        with open(path, 'ab') as fp:
            for start in range(first, len(body), chunk * 16):
                fp.write(body[start:start + chunk * 16])
                fp.flush()
                if done.is_set():
                    break
                time.sleep(0.0002)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            result = _trace(path, trace_fout=str(tmp_path / 'out'))
    finally:
        done.set()
        thread.join()
    n = result.length
    assert 3 <= n <= len(frames)
    pcapbuild.write_pcap(str(tmp_path / 'prefix.pcap'), frames[:n])
    prefix = _trace(tmp_path / 'prefix.pcap')
    assert _flows(result) == _flows(prefix)
    cut = [w for w in caught if issubclass(w.category, TruncatedCaptureWarning)]
    assert len(cut) == (1 if result.truncated else 0)
    for index in result.trace.tcp:
        with open(index.fpout, 'rb') as fp:
            data = fp.read()
        expect = b''.join(struct.pack('<IIII', frames[i - 1][0], 0, 54, 54) + frames[i - 1][2]
                          for i in index.index)
        assert data[24:] == expect
