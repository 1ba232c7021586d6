"""Generated captures for the benchmarks, and small pcap utilities.

    python benchmarks/capgen.py OUT.pcap PACKETS [CONCURRENT [PER_CONNECTION]]

A capture is classic pcap (microsecond, little-endian, Ethernet) of
IPv4 TCP connections between clients 10.a.b.c (one address per connection)
and the server 192.0.2.1:80.  Each connection has ``per_conn`` packets
(an even number, at least 4): SYN, SYN/ACK, then alternately a 100-byte
request segment from the client and a 500-byte response segment from the
server, then FIN/ACK from the client and FIN/ACK from the server.  Sequence
and acknowledgement numbers advance with the data and checksums are right,
so other tools (tshark, tcpflow) see ordinary, complete connections.

``concurrent`` connections are open at a time: in each round every open
connection sends its next packet; when a generation of connections has
sent its last packet the next generation starts.  So a capture of P
packets holds P / per_conn connections, 2 * P / per_conn one-way flows,
and at most 2 * concurrent one-way flows are open at once.
"""
from __future__ import annotations

import os
import struct
import sys

__all__ = ['make_capture', 'flow_counts', 'prefix_capture', 'count_records',
           'GENERATOR_VERSION']

#: Part of generated file names: bump when the bytes written change.
GENERATOR_VERSION = 2

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SERVER = (192 << 24) | (0 << 16) | (2 << 8) | 1
SERVER_PORT = 80
REQUEST = b'x' * 100
RESPONSE = b'y' * 500
ETHERNET = b'\x02\x00\x00\x00\x00\x02' + b'\x02\x00\x00\x00\x00\x01' + b'\x08\x00'
HEADERS = struct.Struct('!BBHHHBBHIIHHIIBBHHH')  # IPv4 (no options) + TCP (no options)
RECORD = struct.Struct('<IIII')
PCAP_HEADER = struct.pack('<IHHiIII', 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)


def _words(data: bytes) -> int:
    if len(data) % 2:
        data += b'\0'
    return sum(struct.unpack(f'!{len(data) // 2}H', data))


_PAYLOAD_SUM = {0: 0, len(REQUEST): _words(REQUEST), len(RESPONSE): _words(RESPONSE)}


def _fold(total: int) -> int:
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(src: int, dst: int, sport: int, dport: int, flags: int, seq: int, ack: int,
          payload: bytes) -> bytes:
    """An Ethernet/IPv4/TCP frame (addresses as 32-bit ints), checksums computed
    from partial sums (the payloads are constant)."""
    tcp_len = 20 + len(payload)
    total = 20 + tcp_len
    addr = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF)
    ip_sum = _fold(0x4500 + total + 0x4000 + (64 << 8 | 6) + addr)
    tcp_sum = _fold(addr + 6 + tcp_len + sport + dport + (seq >> 16) + (seq & 0xFFFF)
                    + (ack >> 16) + (ack & 0xFFFF) + (0x5000 | flags) + 0xFFFF
                    + _PAYLOAD_SUM[len(payload)])
    return ETHERNET + HEADERS.pack(0x45, 0, total, 0, 0x4000, 64, 6, ip_sum, src, dst,
                                   sport, dport, seq, ack, 0x50, flags, 0xFFFF, tcp_sum,
                                   0) + payload


class _Connection:
    __slots__ = ('client', 'cport', 'cseq', 'sseq')

    def __init__(self, number: int) -> None:
        self.client = (10 << 24) | (number & 0xFFFFFF)
        self.cport = 1024 + number % 60000
        self.cseq = (number * 2654435761) & 0xFFFFFFFF
        self.sseq = (number * 40503 + 12345) & 0xFFFFFFFF

    def packet(self, step: int, per_conn: int) -> bytes:
        """The connection's packet number `step` (0-based)."""
        c, s = self.client, SERVER
        if step == 0:
            out = frame(c, s, self.cport, SERVER_PORT, SYN, self.cseq, 0, b'')
            self.cseq = (self.cseq + 1) & 0xFFFFFFFF
            return out
        if step == 1:
            out = frame(s, c, SERVER_PORT, self.cport, SYN | ACK, self.sseq, self.cseq, b'')
            self.sseq = (self.sseq + 1) & 0xFFFFFFFF
            return out
        if step == per_conn - 2:
            out = frame(c, s, self.cport, SERVER_PORT, FIN | ACK, self.cseq, self.sseq, b'')
            self.cseq = (self.cseq + 1) & 0xFFFFFFFF
            return out
        if step == per_conn - 1:
            return frame(s, c, SERVER_PORT, self.cport, FIN | ACK, self.sseq, self.cseq, b'')
        if step % 2 == 0:
            out = frame(c, s, self.cport, SERVER_PORT, ACK | PSH, self.cseq, self.sseq, REQUEST)
            self.cseq = (self.cseq + len(REQUEST)) & 0xFFFFFFFF
            return out
        out = frame(s, c, SERVER_PORT, self.cport, ACK | PSH, self.sseq, self.cseq, RESPONSE)
        self.sseq = (self.sseq + len(RESPONSE)) & 0xFFFFFFFF
        return out


def make_capture(path: str, packets: int, flows: int, per_conn: int = 40) -> None:
    """Write `packets` packets of connections of `per_conn` packets each,
    `flows` connections open at a time (see the module docstring).  The
    file is written under a temporary name and renamed when complete."""
    if per_conn < 4 or per_conn % 2:
        raise ValueError('per_conn must be an even number >= 4')
    if flows < 1:
        raise ValueError('at least one concurrent connection')
    tmp = path + '.part'
    pack_record = RECORD.pack
    with open(tmp, 'wb') as f:
        f.write(PCAP_HEADER)
        chunk: list[bytes] = []
        written, first, t = 0, 0, 0
        while written < packets:
            conns = [_Connection(first + slot) for slot in range(flows)]
            for step in range(per_conn):
                for conn in conns:
                    if written >= packets:
                        break
                    data = conn.packet(step, per_conn)
                    t += 10  # microseconds
                    chunk.append(pack_record(1_700_000_000 + t // 1_000_000, t % 1_000_000,
                                             len(data), len(data)))
                    chunk.append(data)
                    written += 1
                if len(chunk) >= 8192:
                    f.write(b''.join(chunk))
                    chunk.clear()
                if written >= packets:
                    break
            first += flows
        f.write(b''.join(chunk))
    os.replace(tmp, path)


def flow_counts(packets: int, flows: int, per_conn: int = 40) -> dict[str, int]:
    """What make_capture(path, packets, flows, per_conn) writes: connections
    (that sent at least one packet), one-way flows, and the most one-way
    flows open at once (a FIN closes a flow)."""
    generation = flows * per_conn
    full, rest = divmod(packets, generation)
    partial = min(flows, rest) + min(flows, max(0, rest - flows))
    return {'connections': full * flows + min(flows, rest),
            'one_way_flows': full * 2 * flows + partial,
            'peak_open_flows': 2 * flows if full else partial}


def _pcap_order(header: bytes) -> str:
    magic = struct.unpack('<I', header[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        return '<'
    if magic in (0xD4C3B2A1, 0x4D3CB2A1):
        return '>'
    raise ValueError('not a classic pcap file (pcapng is not handled here)')


def _records(f, order: str):
    """Yields (offset, record length including its header) of each record."""
    head = struct.Struct(order + 'IIII')
    offset = 24
    while True:
        raw = f.read(16)
        if len(raw) < 16:
            return
        caplen = head.unpack(raw)[2]
        yield offset, 16 + caplen
        offset += 16 + caplen
        f.seek(offset)


def count_records(path: str) -> int:
    """Number of records of a classic pcap file (headers only are read)."""
    with open(path, 'rb') as f:
        order = _pcap_order(f.read(24))
        return sum(1 for _ in _records(f, order))


def prefix_capture(src: str, dst: str, records: int) -> int:
    """Copy the file header and the first `records` records of src to dst;
    returns the number copied."""
    with open(src, 'rb') as f:
        header = f.read(24)
        order = _pcap_order(header)
        end, n = 24, 0
        for offset, length in _records(f, order):
            if n >= records:
                break
            end = offset + length
            n += 1
        f.seek(0)
        tmp = dst + '.part'
        with open(tmp, 'wb') as out:
            left = end
            while left:
                block = f.read(min(left, 1 << 20))
                if not block:
                    break
                out.write(block)
                left -= len(block)
    os.replace(tmp, dst)
    return n


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit(__doc__.split('\n\n')[1])
    make_capture(sys.argv[1], int(float(sys.argv[2])),
                 int(float(sys.argv[3])) if len(sys.argv) > 3 else 1000,
                 int(sys.argv[4]) if len(sys.argv) > 4 else 40)
