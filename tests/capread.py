"""An independent, plain-Python reader of pcap and pcapng files for tests:
the records the per-flow files must hold, computed without the C core."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction


@dataclass
class Record:
    time: Fraction       # exact seconds since the epoch
    caplen: int
    origlen: int
    data: bytes
    linktype: int


def read_capture(path: str) -> list[Record]:
    """Every packet record, in order (stops at the first damaged record)."""
    data = open(path, 'rb').read()
    if data[:4] == b'\x0a\x0d\x0d\x0a':
        return _pcapng(data)
    return _pcap(data)


def _pcap(data: bytes) -> list[Record]:
    if len(data) < 24:
        return []
    magic = data[:4]
    order = {b'\xd4\xc3\xb2\xa1': '<', b'\x4d\x3c\xb2\xa1': '<',
             b'\xa1\xb2\xc3\xd4': '>', b'\xa1\xb2\x3c\x4d': '>'}[magic]
    nsec = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    snaplen, linktype = struct.unpack(order + 'II', data[16:24])
    # libpcap (which the C core reads pcap files with) cuts a record longer
    # than the file's snapshot length to that length
    limit = snaplen if 0 < snaplen <= 262144 else 262144
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(order + 'IIII', data[off:off + 16])
        if off + 16 + incl > len(data):
            break
        unit = 10**9 if nsec else 10**6
        out.append(Record(Fraction(sec) + Fraction(frac, unit), min(incl, limit), orig,
                          data[off + 16:off + 16 + min(incl, limit)], linktype))
        off += 16 + incl
    return out


def _pcapng(data: bytes) -> list[Record]:
    out, off, order, ifaces = [], 0, '<', []
    while off + 12 <= len(data):
        if data[off:off + 4] == b'\x0a\x0d\x0d\x0a':
            order = '<' if data[off + 8:off + 12] == b'\x4d\x3c\x2b\x1a' else '>'
            ifaces = []
        btype, blen = struct.unpack(order + 'II', data[off:off + 8])
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 1:
            linktype, snaplen = struct.unpack(order + 'HxxI', body[:8])
            units, offset, o = 10**6, 0, 8
            while o + 4 <= len(body):
                code, olen = struct.unpack(order + 'HH', body[o:o + 4])
                value = body[o + 4:o + 4 + olen]
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    units = (2 if value[0] & 0x80 else 10) ** (value[0] & 0x7F)
                if code == 14 and olen >= 8:
                    offset = struct.unpack(order + 'q', value[:8])[0]
                o += 4 + (olen + 3) // 4 * 4
            ifaces.append((linktype, snaplen, units, offset))
        elif btype in (2, 6):
            if btype == 6:
                ifid, hi, lo, cap, orig = struct.unpack(order + 'IIIII', body[:20])
            else:
                ifid, _, hi, lo, cap, orig = struct.unpack(order + 'HHIIII', body[:20])
            linktype, _, units, offset = ifaces[ifid]
            out.append(Record(Fraction((hi << 32) | lo, units) + offset, cap, orig,
                              body[20:20 + cap], linktype))
        elif btype == 3:
            orig = struct.unpack(order + 'I', body[:4])[0]
            linktype, snaplen, _, _ = ifaces[0]
            cap = min(orig, snaplen or orig, len(body) - 4)
            out.append(Record(Fraction(0), cap, orig, body[4:4 + cap], linktype))
        off += blen
    return out


def read_flow_file(path: str) -> tuple[bytes, list[tuple[int, int, int, int, bytes]]]:
    """(24-byte header, [(ts_sec, ts_frac, incl_len, orig_len, data)]) of a
    pcap file, asserting that its records exactly fill it."""
    data = open(path, 'rb').read()
    order = '<' if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    records, off = [], 24
    while off < len(data):
        assert off + 16 <= len(data), f'{path}: cut record header'
        sec, frac, incl, orig = struct.unpack(order + 'IIII', data[off:off + 16])
        assert off + 16 + incl <= len(data), f'{path}: cut record data'
        records.append((sec, frac, incl, orig, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return data[:24], records
