"""pcapkit_tcpflow.extract() (the native path) over the whole shared corpus.

Every capture is traced natively and compared with pcapkit: its live run in
this test session for real/, its recorded results for synthetic/ and
malformed/.  They must be identical, except for the captures listed in
DEVIATIONS, where pcapkit misreads the capture or drops packets it holds;
there our result must be tshark's view of the capture (packet and TCP
packet counts recorded in the corpus MANIFEST), and each category's own
check applies.  Every flow file is checked record by record against the
input capture, read by an independent Python reader.
"""
from __future__ import annotations

import csv
import json
import os
import warnings
from fractions import Fraction

import pytest

import pcapkit_tcpflow
from capread import read_capture, read_flow_file
from conftest import CORPUS, pcapkit_run

DEVIATIONS = {
    # pcapkit decodes only Ethernet and raw IPv4/IPv6 (link types 1, 228, 229)
    'link type': [
        'real/pcpp__four_ipv6_http_streams.pcap', 'real/pcpp__null_loopback.pcap',
        'real/pcpp__one_ipv6_http_stream.pcap', 'real/pcpp__pcapng-example.pcapng',
        'real/pcpp__pktex__NullLoopback.pcap', 'real/pcpp__pktex__Sll2Packet.pcap',
        'real/pcpp__pktex__SllPacket.pcap', 'real/pcpp__pktex__ldap.pcapng',
        'real/pcpp__pktex__mysql.pcapng', 'real/pcpp__raw_ip.pcap', 'real/pcpp__sll.pcap',
        'real/pcpp__sll2.pcap', 'real/tcpdump__bgp-addpath.pcap',
        'real/tcpdump__bgp-enhanced-route-refresh-subtype.pcapng', 'real/tcpdump__bgp-role.pcapng',
        'real/tcpdump__mptcp-aa-echo.pcap', 'real/tcpdump__mptcp-tcprst.pcap',
        'real/tcpdump__mptcp-v1.pcap', 'real/tcpdump__resp_1_benchmark.pcap',
        'real/tcpdump__resp_3_malicious.pcap', 'real/tcpdump__tcp-handshake-nano.pcap',
        'real/tcpdump__tcp_rst_diag_payload-trunc.pcap', 'real/tcpdump__tcp_rst_diag_payload.pcap',
        'synthetic/syn_link_loop108.pcap', 'synthetic/syn_link_null0.pcap',
        'synthetic/syn_link_raw101.pcap', 'synthetic/syn_link_raw12.pcap',
        'synthetic/syn_link_raw14.pcap', 'synthetic/syn_link_sll113.pcap',
        'synthetic/syn_link_sll2_276.pcap', 'malformed/tcpdump__bgp-infinite-loop.pcap',
        'malformed/tcpdump__timestamp_invalid_micro.pcap',
        'malformed/tcpdump__timestamp_invalid_nano.pcap',
        'malformed/tcpdump__zmtp1-inf-loop-1.pcapng',
    ],
    # pcapkit reads big-endian record headers in host order: one frame
    'big-endian file': [
        'real/pcpp__microsecs_big_endian.pcap', 'real/pcpp__nanosecs_big_endian.pcap',
        'real/tcpdump__ipoib.pcap', 'real/tcpdump__pptp.pcap', 'real/tcpdump__unaligned-nfs-1.pcap',
        'synthetic/syn_be_nsec.pcap', 'synthetic/syn_be_usec.pcap',
    ],
    # pcapkit fails on every Multipath TCP option and drops the segment
    'multipath TCP': [
        'real/tcpdump__mptcp-aa-v1.pcap', 'real/tcpdump__mptcp-fclose.pcap',
        'real/tcpdump__mptcp-v0.pcap', 'malformed/tcpdump__mptcp-dss-oobr.pcap',
    ],
    # pcapkit stops at a record with no captured bytes
    'zero-length record': [
        'synthetic/syn_zero_len.pcap', 'malformed/tcpdump__bgp_vpn_rt-oobr.pcap',
        'malformed/tcpdump__vtp_asan.pcap',
    ],
    # the file ends inside a record: pcapkit counts a short frame or raises
    'damaged end of file': [
        'synthetic/syn_eof_data.pcap', 'synthetic/syn_eof_hdr.pcap', 'synthetic/syn_eof_hdr12.pcap',
    ],
    # QinQ S-tags, MPLS and PPPoE under Ethernet
    'encapsulation': [
        'real/pcpp__one_http_stream_rst.pcap', 'real/pcpp__pktex__MplsPackets.pcap',
        'synthetic/syn_vlan.pcap',
    ],
    # pcapkit parses non-first IPv4 fragments as TCP
    'fragments': ['real/pcpp__frag_http_req.pcap'],
    # pcapkit drops Routing headers and misreads Fragment headers
    'IPv6 extension headers': ['synthetic/syn_ipv6_ext.pcap', 'synthetic/syn_ipv6_routing.pcap'],
    # pcapkit drops segments with malformed or unknown-to-it options
    'options': ['synthetic/syn_ipv4_options.pcap', 'synthetic/syn_tcp_options.pcap'],
    # not a capture: both raise (pcapkit's FormatError, ours)
    'unreadable file': ['synthetic/syn_file_bad_magic.pcap', 'synthetic/syn_file_empty.pcap'],
}
CATEGORY = {name: cat for cat, names in DEVIATIONS.items() for name in names}

# Where our count differs from tshark's, and why (checked exactly).
NOT_TSHARK = {
    # first fragments (frames 5 and 10) hold a TCP header we trace (tshark
    # waits for reassembly); frame 4's Segment Routing header is malformed
    # for tshark, we step over it by its length
    'synthetic/syn_ipv6_ext.pcap': (11, 9),
    'synthetic/syn_ipv6_routing.pcap': (5, 5),
    # tshark cannot read link type 182; the records are there
    'malformed/tcpdump__vtp_asan.pcap': (5, 0),
}

MANIFEST = {row['file']: row for row in csv.DictReader(
    open(CORPUS / 'MANIFEST.tsv'), delimiter='\t')} if (CORPUS / 'MANIFEST.tsv').exists() else {}
CAPTURES = sorted(MANIFEST) or ['corpus-missing']


def native(path, out):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        result = pcapkit_tcpflow.extract(str(path), nofile=True, trace=True, tcp=True,
                                         trace_fout=str(out))
    return result, [w for w in caught if issubclass(w.category,
                                                   pcapkit_tcpflow.TruncatedCaptureWarning)]


def pcapkit_view(corpus, name):
    """(flows as (label, index, relative fpout), frames) of pcapkit's run."""
    if name.startswith('real/'):
        extraction, root = pcapkit_run(corpus / name)
        return ([(i.label, tuple(i.index), os.path.relpath(i.fpout, root))
                 for i in extraction.trace.tcp], extraction.length)
    expected = json.loads((corpus / 'expected' / f'{os.path.basename(name)}.json').read_text())
    if 'error' in expected:
        return None, expected.get('partial', {}).get('frames')
    return ([(f['label'], tuple(f['index']), f['fpout']) for f in expected['flows']],
            expected['frames'])


def check_flow_files(path, flows):
    """Every flow file holds exactly the flow's input records."""
    records = read_capture(str(path))
    last = {}
    for flow in sorted(flows, key=lambda f: f.index[0]):
        last[flow.label] = flow  # a reused label's file holds the later-opened flow
    for flow in last.values():
        header, written = read_flow_file(flow.fpout)
        first = records[flow.index[0] - 1]
        assert header[20:24] == first.linktype.to_bytes(4, 'little')
        assert len(written) == len(flow.index)
        for number, (sec, usec, incl, orig, data) in zip(flow.index, written):
            rec = records[number - 1]
            whole = int(rec.time) if rec.time >= 0 else 0
            if 0 <= rec.time < 2**32:
                assert (sec, usec) == (whole, int((rec.time - whole) * 10**6)), number
            assert (incl, orig, data) == (rec.caplen, rec.origlen, rec.data), number


@pytest.mark.parametrize('name', CAPTURES)
def test_native_matches_pcapkit_or_tshark(corpus, tmp_path, name):
    path = corpus / name
    row = MANIFEST[name]
    theirs, their_frames = pcapkit_view(corpus, name)
    category = CATEGORY.get(name)
    if category == 'unreadable file':
        with pytest.raises(pcapkit_tcpflow.FormatError):
            native(path, tmp_path)
        return
    result, truncation = native(path, tmp_path)
    root = str(tmp_path)
    ours = [(i.label, i.index, os.path.relpath(i.fpout, root)) for i in result.trace.tcp]
    check_flow_files(path, result.trace.tcp)

    if category is None:
        assert ours == theirs and result.length == their_frames
        return

    assert (ours, result.length) != (theirs, their_frames), f'{name} no longer deviates'
    tshark = (int(row['packets_tshark']), int(row['tcp_packets_tshark']))
    assert (result.length, result.traced) == NOT_TSHARK.get(name, tshark)
    our_frames = {n for _, index, _ in ours for n in index}
    their_traced = {n for _, index, _ in theirs or () for n in index}
    if category in ('link type', 'multipath TCP', 'encapsulation', 'options',
                    'IPv6 extension headers'):
        assert their_traced <= our_frames and their_frames == result.length
    elif category == 'fragments':
        assert our_frames < their_traced and their_frames == result.length
    elif category == 'big-endian file':
        assert their_frames == 1 and (their_frames < result.length or ours != theirs)
    elif category == 'zero-length record':
        assert their_frames < result.length
    elif category == 'damaged end of file':
        assert truncation and result.truncated
    if category != 'damaged end of file':
        assert not truncation or name == 'real/pcpp__pcapng-example.pcapng'
