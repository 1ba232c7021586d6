"""Command line: trace the TCP flows of a capture and print them as a table.

    python -m pcapkit_tcpflow CAPTURE [-o DIR] [-f FORMAT] [--byteorder {little,big}]
                                      [--nanosecond] [--progress] [--pcapkit-link-types-only]
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from pcapkit_tcpflow.analysis import utc_text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m pcapkit_tcpflow',
        description='Trace the TCP flows of a pcap or pcapng capture (one flow per direction '
                    'of a connection; a FIN closes a flow), as pcapkit does, and print them.')
    parser.add_argument('capture', help='pcap or pcapng file')
    parser.add_argument('-o', '--output', metavar='DIR',
                        help='write one pcap file per flow into DIR (default: write nothing)')
    parser.add_argument('-f', '--format', default='pcap',
                        help='format of the flow files (default: pcap; other formats of pcapkit '
                             'need pcapkit installed)')
    parser.add_argument('--byteorder', choices=('little', 'big'), default=sys.byteorder,
                        help="byte order of pcap flow files (default: this machine's)")
    parser.add_argument('--nanosecond', action='store_true',
                        help='write nanosecond-resolution pcap flow files')
    parser.add_argument('--progress', action='store_true',
                        help='show a progress bar driven by the bytes read (needs tqdm)')
    parser.add_argument('--pcapkit-link-types-only', action='store_true',
                        help='decode only the link types pcapkit decodes (Ethernet, raw IPv4/IPv6)')
    return parser


def _table(extraction: Any, show_files: bool) -> str:
    rows = [('label', 'packets', 'first (UTC)', 'last (UTC)', 'state', 'file')]
    for flow, summary in zip(extraction.trace.tcp, extraction.summaries):
        rows.append((flow.label, str(len(flow.index)), utc_text(summary.first),
                     utc_text(summary.last),
                     'closed' if summary.closed else 'open',
                     (flow.fpout or '-') if show_files else '-'))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(cell.rjust(widths[i]) if i == 1 else cell.ljust(widths[i])
                       for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    from pcapkit_tcpflow.extract import FormatError, _run_native, extract

    if not os.path.isfile(args.capture):
        print(f'error: not a file: {args.capture}', file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            if args.output is None:
                extraction = _run_native(args.capture, None, None, args.byteorder == 'big',
                                         args.nanosecond, None, args.pcapkit_link_types_only,
                                         progress=args.progress)
            else:
                extraction = extract(args.capture, nofile=True, trace=True, tcp=True,
                                     trace_fout=args.output, trace_format=args.format,
                                     trace_byteorder=args.byteorder,
                                     trace_nanosecond=args.nanosecond,
                                     pcapkit_link_types_only=args.pcapkit_link_types_only,
                                     progress=args.progress)
    except (FormatError, OSError, ImportError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    for warning in caught:
        print(f'warning: {warning.message}', file=sys.stderr)
    if not hasattr(extraction, 'summaries'):  # a pcapkit run (another output format)
        for flow in extraction.trace.tcp:
            print(flow.label, len(flow.index), flow.fpout)
        return 0
    print(_table(extraction, args.output is not None))
    print(f'\n{len(extraction.trace.tcp)} flows, {extraction.traced} TCP segments in '
          f'{extraction.length} frames of {args.capture}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
