"""Allocation failures in the C core surface as MemoryError, with no crash
and no leak: the core's Nth allocation is made to fail, for every N a
representative run reaches (the sample capture, written per flow, and a
pcapng capture)."""
from __future__ import annotations

import os
import shutil

import pytest

from pcapkit_tcpflow import _core
from pcapbuild import SYN, tcp_frame

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, 'examples', 'sample.pcap')


def pcapng_file(path):
    import struct
    shb = struct.pack('<IIIHHq', 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack('<I', 28)
    idb = struct.pack('<IIHHI', 1, 20, 1, 0, 0) + struct.pack('<I', 20)
    blocks = [shb, idb]
    for i in range(20):
        frame = tcp_frame('192.0.2.1', '198.51.100.2', 1000 + i % 7, 80, SYN)
        pad = (-len(frame)) % 4
        body = struct.pack('<IIIII', 0, 0, i, len(frame), len(frame)) + frame + bytes(pad)
        blocks.append(struct.pack('<II', 6, 12 + len(body)) + body + struct.pack('<I', 12 + len(body)))
    path.write_bytes(b''.join(blocks))


def run(path, out, fail_at):
    session = _core.Session(str(path), 0, str(out), '.pcap', False, False, 2, False, 1,
                            False, fail_at)
    try:
        while session.step(7) == 0:
            pass
    finally:
        session.finish()
    session.flows()
    return session


@pytest.mark.parametrize('kind', ['pcap', 'pcapng'])
def test_every_allocation_failure_is_a_memory_error(tmp_path, kind):
    path = SAMPLE
    if kind == 'pcapng':
        path = tmp_path / 'in.pcapng'
        pcapng_file(path)
    (tmp_path / 'clean').mkdir()
    (tmp_path / 'last').mkdir()
    total = run(path, tmp_path / 'clean', 0).allocations
    assert total > 20
    for n in range(1, total + 1):
        out = tmp_path / f'o{n}'
        out.mkdir()
        with pytest.raises(MemoryError):
            run(path, out, n)
        shutil.rmtree(out)
    # one past the last allocation: nothing fails
    run(path, tmp_path / 'last', total + 1)
