"""A small pcap builder for tests and for the sample capture.

Builds Ethernet/IPv4/IPv6/TCP frames byte by byte (checksums included) and
writes classic pcap files.  Run as a script to regenerate the sample
capture shipped with the project:

    python tests/pcapbuild.py examples/sample.pcap
"""
from __future__ import annotations

import ipaddress
import struct
import sys
from collections.abc import Iterable

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_segment(src: str, dst: str, sport: int, dport: int, flags: int, seq: int = 0,
                ack: int = 0, payload: bytes = b'') -> bytes:
    """A TCP header (no options) and payload with a correct checksum."""
    header = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    length = len(header) + len(payload)
    if s.version == 4:
        pseudo = s.packed + d.packed + struct.pack('!BBH', 0, 6, length)
    else:
        pseudo = s.packed + d.packed + struct.pack('!IxxxB', length, 6)
    csum = _checksum(pseudo + header + payload)
    return header[:16] + struct.pack('!H', csum) + header[18:] + payload


def ip_packet(src: str, dst: str, proto: int, payload: bytes, ident: int = 0) -> bytes:
    """An IPv4 (no options) or IPv6 header around payload."""
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version == 4:
        header = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), ident, 0x4000, 64,
                             proto, 0, s.packed, d.packed)
        header = header[:10] + struct.pack('!H', _checksum(header)) + header[12:]
        return header + payload
    return struct.pack('!IHBB16s16s', 6 << 28, len(payload), proto, 64, s.packed, d.packed) + payload


def ethernet(payload: bytes, ethertype: int) -> bytes:
    """An Ethernet II header around payload."""
    return b'\x02\x00\x00\x00\x00\x02' + b'\x02\x00\x00\x00\x00\x01' + struct.pack('!H', ethertype) \
        + payload


def tcp_frame(src: str, dst: str, sport: int, dport: int, flags: int, seq: int = 0, ack: int = 0,
              payload: bytes = b'') -> bytes:
    """A whole Ethernet frame carrying one TCP segment."""
    version = ipaddress.ip_address(src).version
    segment = tcp_segment(src, dst, sport, dport, flags, seq, ack, payload)
    return ethernet(ip_packet(src, dst, 6, segment), 0x0800 if version == 4 else 0x86DD)


def write_pcap(path: str, frames: Iterable[tuple[int, int, bytes]], linktype: int = 1,
               nanosecond: bool = False, big_endian: bool = False, snaplen: int = 65535) -> None:
    """Write (ts_sec, ts_frac, frame) records as a classic pcap file."""
    order = '>' if big_endian else '<'
    magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
    with open(path, 'wb') as file:
        file.write(struct.pack(order + 'IHHiIII', magic, 2, 4, 0, 0, snaplen, linktype))
        for sec, frac, data in frames:
            file.write(struct.pack(order + 'IIII', sec, frac, len(data), len(data)))
            file.write(data)


def connection(client: str, server: str, cport: int, sport: int, start: int,
               request: bytes, response: bytes) -> list[tuple[int, int, bytes]]:
    """A whole TCP connection: handshake, one request and response, FIN both ways."""
    frames = []
    t = [start, 0]

    def add(data: bytes) -> None:
        frames.append((t[0], t[1], data))
        t[1] += 125_000
        if t[1] >= 1_000_000:
            t[0] += 1
            t[1] -= 1_000_000

    c, s = 1000, 5000
    add(tcp_frame(client, server, cport, sport, SYN, c))
    add(tcp_frame(server, client, sport, cport, SYN | ACK, s, c + 1))
    add(tcp_frame(client, server, cport, sport, ACK, c + 1, s + 1))
    add(tcp_frame(client, server, cport, sport, PSH | ACK, c + 1, s + 1, request))
    add(tcp_frame(server, client, sport, cport, PSH | ACK, s + 1, c + 1 + len(request), response))
    add(tcp_frame(client, server, cport, sport, FIN | ACK, c + 1 + len(request),
                  s + 1 + len(response)))
    add(tcp_frame(server, client, sport, cport, FIN | ACK, s + 1 + len(response),
                  c + 2 + len(request)))
    add(tcp_frame(client, server, cport, sport, ACK, c + 2 + len(request), s + 2 + len(response)))
    return frames


def sample_frames() -> list[tuple[int, int, bytes]]:
    """The frames of examples/sample.pcap: IPv4 and IPv6 connections, interleaved."""
    conns = [
        connection('192.0.2.10', '198.51.100.7', 49152 + i, 80, 1_700_000_000 + i,
                   b'GET /%d HTTP/1.1\r\nHost: example\r\n\r\n' % i,
                   b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
        for i in range(6)
    ] + [
        connection('2001:db8::10', '2001:db8::80', 50000 + i, 443, 1_700_000_000 + i,
                   b'\x16\x03\x01' + bytes(40), b'\x16\x03\x03' + bytes(60))
        for i in range(4)
    ]
    merged = [frame for conn in conns for frame in conn]
    merged.sort(key=lambda f: (f[0], f[1]))
    # An unfinished connection: a SYN with no answer, left open at the end.
    merged.append((1_700_000_010, 0, tcp_frame('192.0.2.99', '198.51.100.7', 40000, 22, SYN, 7)))
    return merged


if __name__ == '__main__':
    write_pcap(sys.argv[1] if len(sys.argv) > 1 else 'examples/sample.pcap', sample_frames())
