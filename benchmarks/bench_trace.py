"""Per-packet TCP.trace(): pcapkit_tcpflow against pcapkit, same packets, one run.

    python benchmarks/bench_trace.py [--packets N] [--flows F] [--fin P] [--rounds R]

The packets are pcapkit ``Packet`` objects (what pcapkit's Extractor hands a
tracer) over F concurrent flows, each with FIN set with probability P
(default 0.002: long flows; ``--fin 1``: every packet opens a flow and
closes it, the per-flow cost).
The two tracers alternate for R rounds; the table gives the median and
range of nanoseconds per packet and the ratio pcapkit / pcapkit_tcpflow.
Output files are off (an unknown format), so this measures the tracer only.
"""
from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import random
import statistics
import sys
import tempfile
import time


def make_packets(n: int, flows: int, seed: int = 1, fin: float = 0.002) -> list:
    from pcapkit.foundation.traceflow.data.tcp import Packet
    rng = random.Random(seed)
    keys = []
    for i in range(flows):
        if i % 4 == 3:
            src = ipaddress.ip_address(f'2001:db8::{i:x}')
            dst = ipaddress.ip_address('2001:db8:ffff::1')
        else:
            src = ipaddress.ip_address(f'10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}')
            dst = ipaddress.ip_address('192.0.2.1')
        keys.append((src, 1024 + i % 60000, dst, 443))
    out = []
    for n_ in range(1, n + 1):
        src, sport, dst, dport = keys[rng.randrange(flows)]
        out.append(Packet(protocol=1, index=n_, frame=None, syn=False, fin=rng.random() < fin,
                          src=src, dst=dst, srcport=sport, dstport=dport,
                          timestamp=1_700_000_000 + n_ / 1000))
    return out


def run_once(cls, packets, collector: bool = True) -> float:
    tracer = cls(tempfile.mkdtemp(), 'benchmark-no-output')
    trace = tracer.trace
    gc.collect()
    if not collector:
        gc.disable()
    try:
        start = time.perf_counter()
        for packet in packets:
            trace(packet)
        tracer.submit()
        return (time.perf_counter() - start) / len(packets) * 1e9
    finally:
        gc.enable()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--packets', type=int, default=200_000)
    parser.add_argument('--flows', type=int, default=1000)
    parser.add_argument('--fin', type=float, default=0.002, help='probability of FIN')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--no-gc', action='store_true',
                        help="the garbage collector off while tracing (it scans the caller's "
                             'packets, as much for one tracer as for the other)')
    args = parser.parse_args()
    logging.getLogger('pcapkit').setLevel(logging.ERROR)

    from pcapkit.foundation.extraction import Extractor
    from pcapkit.foundation.traceflow.tcp import TCP as PcapkitTCP

    import pcapkit_tcpflow

    saved = dict(Extractor.__traceflow__)

    class Theirs(PcapkitTCP):
        pass

    Extractor.__traceflow__.clear()
    Extractor.__traceflow__.update(saved)

    class Ours(pcapkit_tcpflow.TCP):
        pass

    packets = make_packets(args.packets, args.flows, fin=args.fin)
    results: dict[str, list[float]] = {'pcapkit': [], 'pcapkit_tcpflow': []}
    for _ in range(args.rounds):
        results['pcapkit'].append(run_once(Theirs, packets, not args.no_gc))
        results['pcapkit_tcpflow'].append(run_once(Ours, packets, not args.no_gc))
    print(f'TCP.trace per packet: {args.packets} packets, {args.flows} flows, FIN {args.fin}, '
          f'{args.rounds} alternating rounds, collector {"off" if args.no_gc else "on"}, '
          f'Python {sys.version.split()[0]}')
    print(f'{"tracer":<16} {"median ns":>10} {"min":>8} {"max":>8}')
    for name, values in results.items():
        print(f'{name:<16} {statistics.median(values):>10.0f} {min(values):>8.0f} '
              f'{max(values):>8.0f}')
    ratio = statistics.median(results['pcapkit']) / statistics.median(results['pcapkit_tcpflow'])
    print(f'ratio pcapkit / pcapkit_tcpflow: {ratio:.1f}x')
    return 0


if __name__ == '__main__':
    sys.exit(main())
