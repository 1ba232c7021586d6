"""Each decoder branch on hand-built frames: which frames are traced, with
which key, by the native path (and by pcapkit where it decodes them)."""
from __future__ import annotations

import struct

import pytest

import pcapkit_tcpflow
from pcapbuild import ACK, FIN, SYN, ethernet, ip_packet, tcp_frame, tcp_segment, write_pcap

A4, B4 = '192.0.2.1', '198.51.100.2'
A6, B6 = '2001:db8::1', '2001:db8::2'


def trace(tmp_path, frames, linktype=1, **kw):
    path = tmp_path / 'in.pcap'
    write_pcap(str(path), [(1_600_000_000, i, f) for i, f in enumerate(frames)], linktype=linktype)
    result = pcapkit_tcpflow.extract(str(path), nofile=True, trace=True, tcp=True,
                                     trace_format='none', **kw)
    return [(flow.label.rsplit('-', 1)[0], flow.index) for flow in result.trace.tcp]


def ip4_tcp(sport=1000, flags=SYN, payload=b''):
    return ip_packet(A4, B4, 6, tcp_segment(A4, B4, sport, 80, flags, payload=payload))


def ip6_tcp(sport=2000, flags=SYN):
    return ip_packet(A6, B6, 6, tcp_segment(A6, B6, sport, 80, flags))


def vlan(payload, ethertype, tpid=0x8100):
    return struct.pack('!HH', 100, ethertype) + payload, tpid


def test_ethernet_ipv4_and_ipv6(tmp_path):
    assert trace(tmp_path, [tcp_frame(A4, B4, 1000, 80, SYN), tcp_frame(A6, B6, 2000, 80, SYN)]) == [
        (f'{A4}_1000-{B4}_80', (1,)), ('2001.db8..1_2000-2001.db8..2_80', (2,))]


def test_vlan_stack_and_qinq(tmp_path):
    inner, tpid = vlan(ip4_tcp(1), 0x0800)
    double, _ = vlan(inner, 0x8100)
    qinq, _ = vlan(inner, 0x8100)
    frames = [ethernet(inner, 0x8100), ethernet(double, 0x8100), ethernet(qinq, 0x88A8),
              ethernet(qinq, 0x9100)]
    assert [i for _, i in trace(tmp_path, frames)] == [(1, 2, 3, 4)]
    # pcapkit's link types only: 802.1Q tags, not S-tags
    assert [i for _, i in trace(tmp_path, frames, pcapkit_link_types_only=True)] == [(1, 2)]


def test_mpls_and_pppoe(tmp_path):
    mpls = struct.pack('!I', (16 << 12) | 0) + struct.pack('!I', (17 << 12) | 0x100) + ip4_tcp(2)
    pppoe = struct.pack('!BBHH', 0x11, 0, 1, len(ip6_tcp()) + 2) + b'\x00\x57' + ip6_tcp(3)
    frames = [ethernet(mpls, 0x8847), ethernet(pppoe, 0x8864)]
    assert [k for k, _ in trace(tmp_path, frames)] == [
        f'{A4}_2-{B4}_80', '2001.db8..1_3-2001.db8..2_80']


@pytest.mark.parametrize('linktype, wrap', [
    (101, lambda p: p), (12, lambda p: p), (14, lambda p: p), (228, lambda p: p),
    (0, lambda p: struct.pack('<I', 2 if p[0] >> 4 == 4 else 30) + p),   # NULL, host order
    (0, lambda p: struct.pack('>I', 2 if p[0] >> 4 == 4 else 10) + p),   # NULL, other order
    (108, lambda p: struct.pack('>I', 2 if p[0] >> 4 == 4 else 24) + p),  # LOOP
    (113, lambda p: b'\0' * 14 + struct.pack('!H', 0x0800 if p[0] >> 4 == 4 else 0x86DD) + p),
    (276, lambda p: struct.pack('!H', 0x0800 if p[0] >> 4 == 4 else 0x86DD) + b'\0' * 18 + p),
    (242, lambda p: b'\0' * 40 + struct.pack('!HH', 0x0800 if p[0] >> 4 == 4 else 0x86DD, 0) + p),
])
def test_link_types(tmp_path, linktype, wrap):
    frames = [wrap(ip4_tcp(5))] + ([wrap(ip6_tcp(6))] if linktype != 228 else [])
    got = trace(tmp_path, frames, linktype=linktype)
    assert [i for _, i in got] == [(n,) for n in range(1, len(frames) + 1)]
    if linktype != 228:
        assert trace(tmp_path, frames, linktype=linktype, pcapkit_link_types_only=True) == []


def test_ip_in_ip_uses_outer_addresses(tmp_path):
    outer4 = ip_packet('10.9.9.9', '10.8.8.8', 41, ip6_tcp(7))
    outer6 = ip_packet('2001:db8::99', '2001:db8::98', 4, ip4_tcp(8))
    got = trace(tmp_path, [ethernet(outer4, 0x0800), ethernet(outer6, 0x86DD)])
    assert [k for k, _ in got] == ['10.9.9.9_7-10.8.8.8_80', '2001.db8..99_8-2001.db8..98_80']


def test_ipv4_header_rules(tmp_path):
    seg = tcp_segment(A4, B4, 9, 80, SYN)
    good = ip_packet(A4, B4, 6, seg)
    bad_version = bytes([0x55]) + good[1:]
    short_ihl = bytes([0x44]) + good[1:]
    zero_total = good[:2] + b'\0\0' + good[4:]            # GSO: traced
    tiny_total = good[:2] + struct.pack('!H', 28) + good[4:]  # 8 bytes of TCP: not
    later_fragment = good[:6] + struct.pack('!H', 3) + good[8:]
    first_fragment = good[:6] + struct.pack('!H', 0x2000) + good[8:]
    options = bytes([0x46]) + good[1:20] + b'\x94\x04\x00\x00' + seg  # Router Alert
    options = options[:2] + struct.pack('!H', len(options)) + options[4:]
    frames = [good, bad_version, short_ihl, zero_total, tiny_total, later_fragment,
              first_fragment, options]
    got = trace(tmp_path, [ethernet(f, 0x0800) for f in frames])
    assert got == [(f'{A4}_9-{B4}_80', (1, 4, 7, 8))]


def test_tcp_header_cut_rules(tmp_path):
    """12 bytes: not TCP; 13: TCP without flags (a FIN is not seen); 14: flags."""
    full = tcp_segment(A4, B4, 11, 80, FIN | ACK)
    frames = [ethernet(ip_packet(A4, B4, 6, full[:n]), 0x0800) for n in (12, 13, 14, 20)]
    bad_offset = full[:12] + bytes([0x40]) + full[13:]
    frames.append(ethernet(ip_packet(A4, B4, 6, bad_offset), 0x0800))
    got = trace(tmp_path, frames)
    # frame 2 (13 bytes, FIN unseen) opens the flow, frame 3's FIN closes
    # it, frame 4 opens and closes another; frame 5's data offset is 4
    assert [i for _, i in got] == [(2, 3), (4,)]


def test_ipv6_extension_headers(tmp_path):
    seg = tcp_segment(A6, B6, 12, 80, SYN)
    hbh = bytes([60, 0]) + b'\x01\x04\0\0\0\0'
    dst = bytes([43, 0]) + b'\x01\x04\0\0\0\0'
    rth = bytes([44, 0, 2, 1]) + b'\0' * 4
    frag_first = struct.pack('!BBHI', 51, 0, 1, 7)           # offset 0, more fragments
    ah = bytes([6, 1, 0, 0]) + b'\0' * 8
    chain = hbh + dst + rth + frag_first + ah + seg
    packet = struct.pack('!IHBB16s16s', 6 << 28, len(chain), 0, 64,
                         bytes.fromhex('20010db8' + '0' * 23 + '1'),
                         bytes.fromhex('20010db8' + '0' * 23 + '2')) + chain
    later = struct.pack('!BBHI', 6, 0, (3 << 3), 7) + seg
    later_packet = struct.pack('!IHBB16s16s', 6 << 28, len(later), 44, 64,
                               packet[8:24], packet[24:40]) + later
    no_next = struct.pack('!IHBB16s16s', 6 << 28, len(seg), 59, 64, packet[8:24],
                          packet[24:40]) + seg
    got = trace(tmp_path, [ethernet(p, 0x86DD) for p in (packet, later_packet, no_next)])
    assert got == [('2001.db8..1_12-2001.db8..2_80', (1,))]


def test_truncated_frames_are_not_read_past(tmp_path):
    frame = tcp_frame(A4, B4, 13, 80, SYN)
    frames = [frame[:n] for n in range(len(frame) + 1)]
    got = trace(tmp_path, frames)
    # 14 + 20 + 13 bytes are needed to see a TCP header
    assert got == [(f'{A4}_13-{B4}_80', tuple(range(48, len(frames) + 1)))]
