"""The measured Python tools, each run by benchmarks/run.py in a child process.

    python benchmarks/tasks.py TASK CAPTURE [--limit N] [--threads N] [--idle]

The child imports what the task needs, runs it once, and prints one JSON
line: ``seconds`` (the call alone, measured with perf_counter: interpreter
start and imports excluded), ``packets`` (records handled) and ``flows``
(flows found, where the task finds any).  The parent reads the whole
process's peak memory from wait4().  ``--idle`` imports and returns: the
memory of the interpreter and the imports alone.

Tasks:

extract         pcapkit_tcpflow.extract(CAPTURE, nofile=True, trace=True, tcp=True,
                                        flow_files=False)
extract-files   pcapkit_tcpflow.extract(CAPTURE, nofile=True, trace=True, tcp=True,
                                        trace_fout=<tmpdir>)
files-floor     the flow files of extract-files written again by write_files.c
                (open, one write, close each; only that is timed)
flows           pcapkit_tcpflow.flows(CAPTURE)                      (pandas DataFrame)
trace-ours      pcapkit_tcpflow.TCP(<tmpdir>, 'no-output').trace(packet) per packet
trace-pcapkit   the same with pcapkit.foundation.traceflow.tcp.TCP
                (the packets: pcapkit Packet records of the first --limit
                records, decoded before the clock starts)
read            a plain read of the file, 1 MiB at a time
pcapkit         pcapkit.extract(fin=CAPTURE, nofile=True, store=False, trace=True,
                                tcp=True, trace_fout=<tmpdir>)
pcapkit-dpkt    the same with engine='dpkt'
pcapkit-nofiles, pcapkit-dpkt-nofiles
                the same two with trace_format='benchmark-no-output' (an
                unknown format: pcapkit's tracer writes no flow files)
dpkt-loop       dpkt.pcap.Reader + Ethernet decode; one-way flows keyed by
                (src, sport, dst, dport), a FIN closes the flow, frame numbers
scapy           scapy.utils.PcapReader; the same grouping
threads         --threads N: N threads each calling extract(..., flow_files=False)
                at once, and the same N calls one after the other, alternating
                --rounds rounds; prints both lists of times
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import struct
import sys
import tempfile
import threading
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))


def _tmpdir() -> str:
    """A temporary folder in TMPDIR (the suite points it where flow files go)."""
    return tempfile.mkdtemp(prefix='out-')


def _quiet() -> None:
    logging.getLogger('pcapkit').setLevel(logging.ERROR)
    logging.getLogger('pcapkit').disabled = True
    warnings.simplefilter('ignore')


# ------------------------------------------------------------------ ours

def task_extract(path: str, args: argparse.Namespace) -> dict:
    import pcapkit_tcpflow
    if args.idle:
        return {}
    start = time.perf_counter()
    ext = pcapkit_tcpflow.extract(path, nofile=True, trace=True, tcp=True, flow_files=False)
    seconds = time.perf_counter() - start
    return {'seconds': seconds, 'packets': ext.length, 'flows': len(ext.trace.tcp)}


def task_extract_files(path: str, args: argparse.Namespace) -> dict:
    import pcapkit_tcpflow
    if args.idle:
        return {}
    out = _tmpdir()
    try:
        start = time.perf_counter()
        ext = pcapkit_tcpflow.extract(path, nofile=True, trace=True, tcp=True, trace_fout=out)
        seconds = time.perf_counter() - start
        files = len(os.listdir(out))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {'seconds': seconds, 'packets': ext.length, 'flows': len(ext.trace.tcp),
            'files': files}


def task_files_floor(path: str, args: argparse.Namespace) -> dict:
    """The flow files extract() writes, written again by benchmarks/write_files.c:
    creating the same files with the same bytes and nothing else."""
    import subprocess

    import pcapkit_tcpflow
    if args.idle:
        return {}
    tool = os.path.join(HERE, 'results', 'write_files')
    src, dst = _tmpdir(), _tmpdir()
    try:
        pcapkit_tcpflow.extract(path, nofile=True, trace=True, tcp=True, trace_fout=src)
        out = subprocess.run([tool, src, dst], capture_output=True, text=True, check=True)
        files, size, seconds = out.stdout.split()
    finally:
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(dst, ignore_errors=True)
    return {'seconds': float(seconds), 'files': int(files), 'bytes': int(size)}


def task_flows(path: str, args: argparse.Namespace) -> dict:
    import pandas  # noqa: F401 - imported before the clock starts

    import pcapkit_tcpflow
    if args.idle:
        return {}
    start = time.perf_counter()
    df = pcapkit_tcpflow.flows(path)
    seconds = time.perf_counter() - start
    return {'seconds': seconds, 'packets': int(df['packets'].sum()), 'flows': len(df)}


def _decode_packets(path: str, limit: int) -> list:
    """pcapkit Packet records (what pcapkit's Extractor hands a tracer) of the
    TCP segments in the first `limit` records of an Ethernet pcap file."""
    import ipaddress

    from pcapkit.foundation.traceflow.data.tcp import Packet
    from pcapkit.const.reg.linktype import LinkType

    addresses: dict[bytes, object] = {}

    def address(raw: bytes) -> object:
        obj = addresses.get(raw)
        if obj is None:
            obj = addresses[raw] = ipaddress.ip_address(raw)
        return obj

    out = []
    with open(path, 'rb') as f:
        header = f.read(24)
        magic = struct.unpack('<I', header[:4])[0]
        order = '<' if magic in (0xA1B2C3D4, 0xA1B23C4D) else '>'
        scale = 1e-9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e-6
        linktype = struct.unpack(order + 'I', header[20:24])[0] & 0x0FFFFFFF
        if linktype != 1:
            raise SystemExit(f'link type {linktype}: only Ethernet is decoded here')
        protocol = LinkType(1)
        rec = struct.Struct(order + 'IIII')
        number = 0
        while number < limit:
            raw = f.read(16)
            if len(raw) < 16:
                break
            sec, frac, caplen, _ = rec.unpack(raw)
            data = f.read(caplen)
            number += 1
            etype = data[12:14]
            off = 14
            while etype in (b'\x81\x00', b'\x88\xa8'):
                etype = data[off + 2:off + 4]
                off += 4
            if etype == b'\x08\x00':
                if data[off + 9] != 6 or struct.unpack('!H', data[off + 6:off + 8])[0] & 0x1FFF:
                    continue
                src, dst = data[off + 12:off + 16], data[off + 16:off + 20]
                off += (data[off] & 15) * 4
            elif etype == b'\x86\xdd':
                if data[off + 6] != 6:
                    continue
                src, dst = data[off + 8:off + 24], data[off + 24:off + 40]
                off += 40
            else:
                continue
            sport, dport = struct.unpack('!HH', data[off:off + 4])
            flags = data[off + 13]
            out.append(Packet(protocol=protocol, index=number, frame=None,
                              syn=bool(flags & 2), fin=bool(flags & 1),
                              src=address(src), dst=address(dst), srcport=sport,
                              dstport=dport, timestamp=sec + frac * scale))
    return out


def _trace(path: str, args: argparse.Namespace, which: str) -> dict:
    _quiet()
    from pcapkit.foundation.extraction import Extractor
    from pcapkit.foundation.traceflow.tcp import TCP as PcapkitTCP

    import pcapkit_tcpflow
    saved = dict(Extractor.__traceflow__)
    if which == 'ours':
        class Tracer(pcapkit_tcpflow.TCP):
            pass
    else:
        class Tracer(PcapkitTCP):  # type: ignore[no-redef]
            pass
    Extractor.__traceflow__.clear()
    Extractor.__traceflow__.update(saved)
    if args.idle:
        return {}
    packets = _decode_packets(path, args.limit or (1 << 62))
    out = _tmpdir()
    try:
        # an unknown output format: the tracer writes no files
        tracer = Tracer(out, 'benchmark-no-output')
        trace = tracer.trace
        # the decoding's garbage is collected before the clock starts, for
        # both tracers alike (else the first full collection falls inside)
        gc.collect()
        start = time.perf_counter()
        for packet in packets:
            trace(packet)
        flows = tracer.submit()
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {'seconds': seconds, 'packets': packets[-1].index if packets else 0,
            'segments': len(packets), 'flows': len(flows)}


def task_trace_ours(path: str, args: argparse.Namespace) -> dict:
    return _trace(path, args, 'ours')


def task_trace_pcapkit(path: str, args: argparse.Namespace) -> dict:
    return _trace(path, args, 'pcapkit')


# ----------------------------------------------------------------- floor

def task_read(path: str, args: argparse.Namespace) -> dict:
    if args.idle:
        return {}
    start = time.perf_counter()
    total = 0
    with open(path, 'rb', buffering=0) as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            total += len(block)
    return {'seconds': time.perf_counter() - start, 'bytes': total}


# ----------------------------------------------------------------- peers

def _pcapkit(path: str, args: argparse.Namespace, engine: str | None,
             files: bool = True) -> dict:
    _quiet()
    import pcapkit
    if engine == 'dpkt':
        import dpkt  # noqa: F401 - fail early when it is missing
    if args.idle:
        return {}
    out = _tmpdir()
    options = {} if engine is None else {'engine': engine}
    if not files:
        options['trace_format'] = 'benchmark-no-output'  # unknown: no flow files
    try:
        start = time.perf_counter()
        ext = pcapkit.extract(fin=path, nofile=True, store=False, trace=True, tcp=True,
                              trace_fout=out, **options)
        seconds = time.perf_counter() - start
        flows = len(ext.trace.tcp)
        packets = ext.length
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {'seconds': seconds, 'packets': packets, 'flows': flows}


def task_pcapkit(path: str, args: argparse.Namespace) -> dict:
    return _pcapkit(path, args, None)


def task_pcapkit_dpkt(path: str, args: argparse.Namespace) -> dict:
    return _pcapkit(path, args, 'dpkt')


def task_pcapkit_nofiles(path: str, args: argparse.Namespace) -> dict:
    return _pcapkit(path, args, None, files=False)


def task_pcapkit_dpkt_nofiles(path: str, args: argparse.Namespace) -> dict:
    return _pcapkit(path, args, 'dpkt', files=False)


def task_dpkt_loop(path: str, args: argparse.Namespace) -> dict:
    import dpkt
    if args.idle:
        return {}
    start = time.perf_counter()
    open_flows: dict[tuple, list[int]] = {}
    closed: list[tuple[tuple, list[int]]] = []
    ip4, ip6, tcp_t = dpkt.ip.IP, dpkt.ip6.IP6, dpkt.tcp.TCP
    fin = dpkt.tcp.TH_FIN
    number = 0
    with open(path, 'rb') as f:
        reader = dpkt.pcap.UniversalReader(f)
        decode = dpkt.ethernet.Ethernet if reader.datalink() == dpkt.pcap.DLT_EN10MB else None
        if decode is None:
            raise SystemExit('only Ethernet captures are decoded here')
        for _ts, buf in reader:
            number += 1
            ip = decode(buf).data
            if not isinstance(ip, (ip4, ip6)):
                continue
            tcp = ip.data
            if not isinstance(tcp, tcp_t):
                continue
            key = (ip.src, tcp.sport, ip.dst, tcp.dport)
            frames = open_flows.get(key)
            if frames is None:
                frames = open_flows[key] = []
            frames.append(number)
            if tcp.flags & fin:
                closed.append((key, open_flows.pop(key)))
    flows = closed + list(open_flows.items())
    return {'seconds': time.perf_counter() - start, 'packets': number, 'flows': len(flows)}


def task_scapy(path: str, args: argparse.Namespace) -> dict:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import PcapReader
    if args.idle:
        return {}
    start = time.perf_counter()
    open_flows: dict[tuple, list[int]] = {}
    closed: list[tuple[tuple, list[int]]] = []
    number = 0
    with PcapReader(path) as reader:
        for pkt in reader:
            number += 1
            tcp = pkt.getlayer(TCP)
            if tcp is None:
                continue
            ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
            key = (ip.src, tcp.sport, ip.dst, tcp.dport)
            frames = open_flows.get(key)
            if frames is None:
                frames = open_flows[key] = []
            frames.append(number)
            if tcp.flags & 0x01:
                closed.append((key, open_flows.pop(key)))
    flows = closed + list(open_flows.items())
    return {'seconds': time.perf_counter() - start, 'packets': number, 'flows': len(flows)}


# ------------------------------------------------------------ multi-core

def task_threads(path: str, args: argparse.Namespace) -> dict:
    import pcapkit_tcpflow
    if args.idle:
        return {}
    n = args.threads

    def one() -> None:
        pcapkit_tcpflow.extract(path, nofile=True, trace=True, tcp=True, flow_files=False)

    one()  # warm the page cache and the imports
    sequential, threaded, seq_cpu, thr_cpu = [], [], [], []
    for _ in range(args.rounds):
        cpu, start = time.process_time(), time.perf_counter()
        for _ in range(n):
            one()
        sequential.append(time.perf_counter() - start)
        seq_cpu.append(time.process_time() - cpu)
        workers = [threading.Thread(target=one) for _ in range(n)]
        cpu, start = time.process_time(), time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        threaded.append(time.perf_counter() - start)
        thr_cpu.append(time.process_time() - cpu)
    return {'sequential': sequential, 'threaded': threaded, 'threads': n,
            'sequential_cpu': seq_cpu, 'threaded_cpu': thr_cpu}


TASKS = {
    'extract': task_extract,
    'extract-files': task_extract_files,
    'files-floor': task_files_floor,
    'flows': task_flows,
    'trace-ours': task_trace_ours,
    'trace-pcapkit': task_trace_pcapkit,
    'read': task_read,
    'pcapkit': task_pcapkit,
    'pcapkit-dpkt': task_pcapkit_dpkt,
    'pcapkit-nofiles': task_pcapkit_nofiles,
    'pcapkit-dpkt-nofiles': task_pcapkit_dpkt_nofiles,
    'dpkt-loop': task_dpkt_loop,
    'scapy': task_scapy,
    'threads': task_threads,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('task', choices=sorted(TASKS))
    parser.add_argument('capture')
    parser.add_argument('--limit', type=int, default=0, help='records (trace-* tasks)')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--idle', action='store_true', help='imports only')
    args = parser.parse_args()
    result = TASKS[args.task](args.capture, args)
    sys.stdout.flush()
    print('RESULT ' + json.dumps(result), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
