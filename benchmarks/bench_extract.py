"""Native extract() against the floor and against pcapkit, on one capture.

    python benchmarks/bench_extract.py [--packets N] [--flows F] [--rounds R]
                                       [--pcapkit-packets M]

Generates (once, under benchmarks/results/) a capture of N Ethernet/IPv4
TCP packets spread over F concurrent connections (handshake, data, FIN
both ways), then times, alternating rounds:

- the floor: benchmarks/pcap_loop.c, a bare libpcap pcap_next_ex() loop
  (compiled here with cc -O2), and a plain read of the file;
- pcapkit_tcpflow.extract() without output files, and with per-flow pcap
  files;
- pcapkit.extract(trace=True, tcp=True) on the first M packets only (it is
  about a million times slower), extrapolated per packet and labelled so.

Prints medians, ratios, and packets per second.  The whole suite (peers,
scaling, memory, threads) is benchmarks/run.py; this smaller benchmark is
the one quoted in docs/performance.rst.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from capgen import GENERATOR_VERSION, make_capture  # noqa: E402  (the suite's generator)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--packets', type=int, default=2_000_000)
    parser.add_argument('--flows', type=int, default=5000)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--pcapkit-packets', type=int, default=2000)
    args = parser.parse_args()

    import pcapkit_tcpflow

    results = os.path.join(HERE, 'results')
    os.makedirs(results, exist_ok=True)
    capture = os.path.join(results, f'tcp40-v{GENERATOR_VERSION}-{args.packets}-{args.flows}.pcap')
    if not os.path.exists(capture):
        make_capture(capture, args.packets, args.flows)
    prefix = os.path.join(results, f'tcp40-v{GENERATOR_VERSION}-{args.packets}-{args.flows}'
                                   f'-prefix{args.pcapkit_packets}.pcap')
    if not os.path.exists(prefix):
        make_capture(prefix, args.pcapkit_packets, args.flows)
    loop = os.path.join(results, 'pcap_loop')
    subprocess.run(['cc', '-O2', '-o', loop, os.path.join(HERE, 'pcap_loop.c'), '-lpcap'],
                   check=True)

    def bare_loop() -> None:
        subprocess.run([loop, capture], check=True, stdout=subprocess.DEVNULL)

    def read_file() -> None:
        with open(capture, 'rb') as f:
            while f.read(1 << 20):
                pass

    def native() -> None:
        pcapkit_tcpflow.extract(capture, nofile=True, trace=True, tcp=True,
                                trace_format='no-output')

    def native_files() -> None:
        out = tempfile.mkdtemp(dir=results)
        try:
            pcapkit_tcpflow.extract(capture, nofile=True, trace=True, tcp=True, trace_fout=out)
        finally:
            shutil.rmtree(out)

    import logging
    import warnings
    logging.getLogger('pcapkit').setLevel(logging.ERROR)
    warnings.simplefilter('ignore')
    runs = {'bare libpcap loop (C)': bare_loop, 'read the file': read_file,
            'extract(), no output': native, 'extract(), per-flow pcap files': native_files}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            times[name].append(timed(fn))

    pk_time = None
    try:
        import pcapkit
        from pcapkit.foundation.extraction import Extractor  # noqa: F401
        out = tempfile.mkdtemp(dir=results)
        pk_time = timed(lambda: pcapkit.extract(fin=prefix, nofile=True, store=False, trace=True,
                                                tcp=True, trace_fout=out))
        shutil.rmtree(out)
    except ImportError:
        print('pcapkit not installed: its row is skipped')

    size = os.path.getsize(capture)
    print(f'capture: {args.packets} packets, {args.flows} concurrent connections, '
          f'{args.packets // 20} flows, '
          f'{size / 1e6:.0f} MB; {args.rounds} alternating rounds; Python {sys.version.split()[0]}')
    floor = statistics.median(times['bare libpcap loop (C)'])
    ours = statistics.median(times['extract(), no output'])
    print(f'{"run":<34} {"median s":>9} {"min":>8} {"max":>8} {"Mpkt/s":>7} {"/ floor":>8}')
    for name, values in times.items():
        med = statistics.median(values)
        print(f'{name:<34} {med:>9.3f} {min(values):>8.3f} {max(values):>8.3f} '
              f'{args.packets / med / 1e6:>7.2f} {med / floor:>7.2f}x')
    if pk_time is not None:
        per = pk_time / args.pcapkit_packets
        print(f'{"pcapkit.extract (extrapolated)":<34} {per * args.packets:>9.1f}   '
              f'(measured on the first {args.pcapkit_packets} packets: {per * 1e6:.0f} us/packet)')
        print(f'pcapkit / extract(): {per * args.packets / ours:,.0f}x')
    return 0


if __name__ == '__main__':
    sys.exit(main())
