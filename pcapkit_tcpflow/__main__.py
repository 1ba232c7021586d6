"""Command line: trace the TCP flows of a capture and print them as a table.

    python -m pcapkit_tcpflow CAPTURE [-o DIR] [-f FORMAT] [--byteorder {little,big}]
                                      [--nanosecond]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m pcapkit_tcpflow',
        description='Trace the TCP flows of a capture (one flow per direction of a connection; '
                    'a FIN closes a flow) and print them.')
    parser.add_argument('capture', help='pcap or pcapng file')
    parser.add_argument('-o', '--output', metavar='DIR',
                        help='write one file per flow into DIR (default: write nothing)')
    parser.add_argument('-f', '--format', default='pcap',
                        help='format of the flow files (default: pcap)')
    parser.add_argument('--byteorder', choices=('little', 'big'), default=sys.byteorder,
                        help='byte order of pcap flow files (default: this machine\'s)')
    parser.add_argument('--nanosecond', action='store_true',
                        help='write nanosecond-resolution pcap flow files')
    return parser


def _table(flows: Sequence[Any], closed: set[str], show_files: bool) -> str:
    rows = [('label', 'packets', 'frames', 'state', 'file')]
    for flow in flows:
        frames = f'{flow.index[0]}-{flow.index[-1]}' if flow.index else '-'
        state = 'closed' if flow.label in closed else 'open'
        rows.append((flow.label, str(len(flow.index)), frames, state,
                     (flow.fpout or '-') if show_files else '-'))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(cell.ljust(widths[i]) if i != 1 else cell.rjust(widths[i])
                       for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if not os.path.exists(args.capture):
        print(f'error: no such file: {args.capture}', file=sys.stderr)
        return 2
    try:
        import pcapkit
    except ImportError:
        print('error: reading captures needs pcapkit for now: pip install pypcapkit',
              file=sys.stderr)
        return 2

    from pcapkit.foundation.extraction import Extractor

    from pcapkit_tcpflow import TCP

    closed: set[str] = set()

    class _CLITCP(TCP):
        pass

    _CLITCP.register_callback(lambda index: closed.add(index.label))
    previous = Extractor.__traceflow__['tcp']
    Extractor.__traceflow__['tcp'] = _CLITCP
    try:
        with tempfile.TemporaryDirectory() as scratch:
            extraction = pcapkit.extract(
                fin=args.capture, nofile=True, store=False, trace=True, tcp=True,
                trace_fout=args.output or scratch, trace_format=args.format,
                trace_byteorder=args.byteorder, trace_nanosecond=args.nanosecond)
            flows = extraction.trace.tcp
            frames = extraction.length
    finally:
        Extractor.__traceflow__['tcp'] = previous
    print(_table(flows, closed, args.output is not None))
    print(f'\n{len(flows)} flows in {frames} frames of {args.capture}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
