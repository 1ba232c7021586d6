"""Captures larger than the disk they take: the limit tests' generators.

A capture of several GiB is honest to read but wasteful to write, so these
writers seek over what would be zeros and let the file system leave holes:

* ``spaced_pcap`` / ``spaced_pcapng``: every record is ``record_len`` bytes
  long; the frame given is at its start and the rest of the record is zeros
  (Ethernet padding after the IP packet).  A reader reads every byte.
* ``zero_run_pcap``: frames, then ``zeros`` records of length zero (16 zero
  bytes each: time 0, caplen 0, len 0), then more frames.  This reaches
  frame numbers past 2**32 with a file of 64 GiB that takes no disk.

Run as a script to write the development-only inputs named in the README
(``python tests/bigcapture.py --help``).
"""
from __future__ import annotations

import argparse
import struct
import sys
from collections.abc import Sequence

import pcapbuild

Frame = tuple[int, int, bytes]  # (seconds, microseconds, bytes)

PCAP_HEADER = struct.Struct('<IHHiIII')
RECORD = struct.Struct('<IIII')


def _pcap_header(snaplen: int) -> bytes:
    return PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)


def spaced_pcap(path: str, frames: Sequence[Frame], record_len: int) -> int:
    """Write a pcap whose records are all record_len bytes; return its size."""
    with open(path, 'wb') as fp:
        fp.write(_pcap_header(record_len))
        pos = PCAP_HEADER.size
        for sec, usec, data in frames:
            assert len(data) <= record_len
            fp.seek(pos)
            fp.write(RECORD.pack(sec, usec, record_len, record_len) + data)
            pos += RECORD.size + record_len
        fp.truncate(pos)
    return pos


def spaced_pcapng(path: str, frames: Sequence[Frame], body_len: int) -> int:
    """Write a pcapng whose Enhanced Packet Blocks all carry body_len bytes."""
    assert body_len % 4 == 0
    shb = struct.pack('<IIIHHq', 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1)
    shb += struct.pack('<I', 28)
    idb = struct.pack('<IIHHI', 1, 20, 1, 0, 0) + struct.pack('<I', 20)
    block_len = 28 + body_len + 4
    with open(path, 'wb') as fp:
        fp.write(shb + idb)
        pos = len(shb) + len(idb)
        for sec, usec, data in frames:
            assert len(data) <= body_len
            ts = sec * 1_000_000 + usec
            fp.seek(pos)
            fp.write(struct.pack('<IIIIIII', 6, block_len, 0, ts >> 32, ts & 0xFFFFFFFF,
                                 body_len, body_len) + data)
            fp.seek(pos + block_len - 4)
            fp.write(struct.pack('<I', block_len))
            pos += block_len
        fp.truncate(pos)
    return pos


def zero_run_pcap(path: str, head: Sequence[Frame], zeros: int, tail: Sequence[Frame]) -> int:
    """Write head frames, zeros zero-length records (a hole), tail frames."""
    with open(path, 'wb') as fp:
        fp.write(_pcap_header(65535))
        for sec, usec, data in head:
            fp.write(RECORD.pack(sec, usec, len(data), len(data)) + data)
        fp.seek(fp.tell() + zeros * RECORD.size)
        for sec, usec, data in tail:
            fp.write(RECORD.pack(sec, usec, len(data), len(data)) + data)
        return fp.tell()


def syn_frames(count: int, start: int = 0) -> list[Frame]:
    """count SYNs of count distinct flows (10.x.y.z:port -> 192.0.2.1:80)."""
    frames = []
    for i in range(start, start + count):
        src = f'10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}'
        port = 1024 + (i >> 24)
        frames.append((1_000_000 + i // 1000, i % 1000 * 1000,
                       pcapbuild.tcp_frame(src, '192.0.2.1', port, 80, pcapbuild.SYN)))
    return frames


def _many_flows(path: str, count: int) -> None:
    """count one-packet flows, written record by record from one template."""
    template = bytearray(pcapbuild.tcp_frame('10.0.0.0', '192.0.2.1', 1024, 80, pcapbuild.SYN))
    with open(path, 'wb') as fp:
        fp.write(_pcap_header(65535))
        out = bytearray()
        for i in range(count):
            template[26:30] = struct.pack('!I', 0x0A000000 | (i & 0xFFFFFF))
            template[34:36] = struct.pack('!H', 1024 + (i >> 24))
            out += RECORD.pack(1_000_000 + i // 1000, i % 1000 * 1000, len(template),
                               len(template)) + template
            if len(out) > 1 << 22:
                fp.write(out)
                out.clear()
        fp.write(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('kind', choices=['frames-2-32', 'flows-2-24'])
    parser.add_argument('path')
    args = parser.parse_args(argv)
    if args.kind == 'frames-2-32':
        # 3 SYNs, 2**32 zero-length records (64 GiB of holes), 3 SYNs of the
        # same flows: frames 1-3 and 2**32 + 4 .. 2**32 + 6
        size = zero_run_pcap(args.path, syn_frames(3), 1 << 32, syn_frames(3))
    else:
        # 2**24 + 5 flows of one SYN each (checksums not updated: not checked)
        _many_flows(args.path, (1 << 24) + 5)
        size = 0
    print(f'{args.path}: {size or "written"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
