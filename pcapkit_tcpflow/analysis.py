"""Flows as a table: :func:`flows`, ``Extraction.to_pandas()`` / ``to_arrow()``.

One row per flow, in :func:`~pcapkit_tcpflow.extract`'s order.  Every column
comes from the same pass over the capture (the C core counts as it traces):

=============== ==============================================================
label           pcapkit's flow label
src, dst        addresses: :mod:`ipaddress` objects (pandas); text (arrow, which
                has no address type)
srcport,dstport ports
first, last     times of the first and last packets, timezone-aware (UTC)
duration        ``last - first``
packets         number of packets (= ``len(frames)``)
wire_bytes      sum of the packets' original lengths
captured_bytes  sum of the packets' captured lengths
syn, fin, rst   packets with each flag set
closed          the flow was closed by a FIN (else open at the end)
file            the flow's output file, or None
frames          frame numbers (1-based) of the flow's packets
=============== ==============================================================

pandas and pyarrow are optional: ``pip install 'pcapkit-tcpflow[pandas]'``
or ``'[arrow]'``.
"""
from __future__ import annotations

import datetime
import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas
    import pyarrow

    from pcapkit_tcpflow.extract import Extraction

__all__ = ['flows', 'COLUMNS', 'to_pandas', 'to_arrow', 'columns']

#: Column names, in order.
COLUMNS = ('label', 'src', 'srcport', 'dst', 'dstport', 'first', 'last', 'duration', 'packets',
           'wire_bytes', 'captured_bytes', 'syn', 'fin', 'rst', 'closed', 'file', 'frames')

_NS = 1_000_000_000
_I64 = (-(1 << 63), (1 << 63) - 1)


def _need(module: str, extra: str) -> Any:
    try:
        return __import__(module)
    except ImportError as error:
        raise ImportError(f'this needs {module}: pip install "pcapkit-tcpflow[{extra}]"') \
            from error


def _nanoseconds(when: tuple[int, int]) -> int | None:
    """Nanoseconds since the epoch, or None outside datetime64[ns]'s range."""
    ns = when[0] * _NS + when[1]
    return ns if _I64[0] < ns <= _I64[1] else None


def columns(extraction: Extraction) -> dict[str, list[Any]]:
    """The table as plain Python lists (times in nanoseconds since the epoch,
    None where a time does not fit 64-bit nanoseconds; addresses packed)."""
    flows = extraction.trace.tcp
    stats = extraction.stats
    if len(stats) != len(flows):
        raise ValueError('this extraction has no per-flow statistics: it was not traced by '
                         'the native path (pcapkit_tcpflow.extract with nofile=True)')
    first = [_nanoseconds(s.first) for s in stats]
    last = [_nanoseconds(s.last) for s in stats]
    return {
        'label': [f.label for f in flows],
        'src': [s.src_packed for s in stats],
        'srcport': [s.srcport for s in stats],
        'dst': [s.dst_packed for s in stats],
        'dstport': [s.dstport for s in stats],
        'first': first,
        'last': last,
        'duration': [b - a if a is not None and b is not None else None
                     for a, b in zip(first, last)],
        'packets': [len(f.index) for f in flows],
        'wire_bytes': [s.wire_bytes for s in stats],
        'captured_bytes': [s.captured_bytes for s in stats],
        'syn': [s.syn for s in stats],
        'fin': [s.fin for s in stats],
        'rst': [s.rst for s in stats],
        'closed': [s.closed for s in stats],
        'file': [f.fpout for f in flows],
        'frames': [tuple(f.index) for f in flows],
    }


def to_pandas(extraction: Extraction) -> pandas.DataFrame:
    """The flows of an extraction as a :class:`pandas.DataFrame`."""
    _need('pandas', 'pandas')
    import ipaddress

    import pandas as pd  # the module _need() imported, typed by pandas-stubs

    data = columns(extraction)
    cache: dict[bytes, Any] = {}

    def address(packed: bytes) -> Any:
        value = cache.get(packed)
        if value is None:
            value = cache[packed] = ipaddress.ip_address(packed)
        return value

    frame = pd.DataFrame({
        'label': pd.Series(data['label'], dtype=object),
        'src': pd.Series([address(a) for a in data['src']], dtype=object),
        'srcport': pd.Series(data['srcport'], dtype='uint16'),
        'dst': pd.Series([address(a) for a in data['dst']], dtype=object),
        'dstport': pd.Series(data['dstport'], dtype='uint16'),
        'first': pd.to_datetime(pd.Series(data['first'], dtype='Int64'), unit='ns', utc=True),
        'last': pd.to_datetime(pd.Series(data['last'], dtype='Int64'), unit='ns', utc=True),
        'duration': pd.to_timedelta(pd.Series(data['duration'], dtype='Int64'), unit='ns'),
        'packets': pd.Series(data['packets'], dtype='int64'),
        'wire_bytes': pd.Series(data['wire_bytes'], dtype='int64'),
        'captured_bytes': pd.Series(data['captured_bytes'], dtype='int64'),
        'syn': pd.Series(data['syn'], dtype='int64'),
        'fin': pd.Series(data['fin'], dtype='int64'),
        'rst': pd.Series(data['rst'], dtype='int64'),
        'closed': pd.Series(data['closed'], dtype=bool),
        'file': pd.Series(data['file'], dtype=object),
        'frames': pd.Series(data['frames'], dtype=object),
    }, columns=list(COLUMNS))
    return frame


def to_arrow(extraction: Extraction) -> pyarrow.Table:
    """The flows of an extraction as a :class:`pyarrow.Table` (addresses as
    text, frame numbers as ``list<uint64>``)."""
    pa = _need('pyarrow', 'arrow')
    import ipaddress

    data = columns(extraction)
    text: dict[bytes, str] = {}

    def address(packed: bytes) -> str:
        value = text.get(packed)
        if value is None:
            value = text[packed] = str(ipaddress.ip_address(packed))
        return value

    utc = pa.timestamp('ns', tz='UTC')
    arrays = [
        pa.array(data['label'], pa.string()),
        pa.array([address(a) for a in data['src']], pa.string()),
        pa.array(data['srcport'], pa.uint16()),
        pa.array([address(a) for a in data['dst']], pa.string()),
        pa.array(data['dstport'], pa.uint16()),
        pa.array(data['first'], utc),
        pa.array(data['last'], utc),
        pa.array(data['duration'], pa.duration('ns')),
        pa.array(data['packets'], pa.uint64()),
        pa.array(data['wire_bytes'], pa.uint64()),
        pa.array(data['captured_bytes'], pa.uint64()),
        pa.array(data['syn'], pa.uint32()),
        pa.array(data['fin'], pa.uint32()),
        pa.array(data['rst'], pa.uint32()),
        pa.array(data['closed'], pa.bool_()),
        pa.array(data['file'], pa.string()),
        pa.array(data['frames'], pa.list_(pa.uint64())),
    ]
    return pa.Table.from_arrays(arrays, names=list(COLUMNS))


def flows(capture: Any, *, as_arrow: bool = False, progress: bool | None = None,
          **options: Any) -> Any:
    """Trace a capture's TCP flows and return them as a table.

    ``capture`` is a path or a binary file; ``options`` are those of
    :func:`~pcapkit_tcpflow.extract`; no flow files are written unless
    ``trace_fout`` (a folder) or ``trace_format`` is given.  Returns a :class:`pandas.DataFrame`, or
    a :class:`pyarrow.Table` with ``as_arrow=True``; one row per flow, in
    ``extract()``'s order, columns :data:`COLUMNS`.
    """
    from pcapkit_tcpflow.extract import extract

    _need('pyarrow' if as_arrow else 'pandas', 'arrow' if as_arrow else 'pandas')
    options.setdefault('nofile', True)
    options.setdefault('store', False)
    if options.get('trace_fout') is None and options.get('trace_format') is None:
        options.setdefault('flow_files', False)
    result = extract(capture, trace=True, tcp=True, progress=progress, **options)
    return result.to_arrow() if as_arrow else result.to_pandas()


def utc_text(when: tuple[int, int]) -> str:
    """``(seconds, nanoseconds)`` as ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC)."""
    sec, nsec = when
    try:
        moment = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f'{sec}.{nsec:09d}'
    return moment.strftime('%Y-%m-%d %H:%M:%S') + f'.{nsec // 1000:06d}'


def _cells(values: list[Any]) -> str:
    return ''.join(f'<td>{html.escape(str(v))}</td>' for v in values)


def extraction_html(extraction: Extraction, limit: int = 10) -> str:
    """Rich display of an extraction: counts and the first flows."""
    flows = extraction.trace.tcp
    stats = extraction.stats if len(extraction.stats) == len(flows) else None
    closed = sum(s.closed for s in stats) if stats is not None else None
    head = (f'<b>{html.escape(type(extraction).__name__)}</b> '
            f'<code>{html.escape(str(extraction.input))}</code>: '
            f'{extraction.length:,} frames, {extraction.traced:,} TCP segments traced, '
            f'{len(flows):,} flows')
    if closed is not None:
        head += f' ({closed:,} closed by FIN, {len(flows) - closed:,} open)'
    if extraction.truncated:
        head += f'<br><b>truncated:</b> {html.escape(extraction.truncated)}'
    titles = ['#', 'label', 'packets', 'first (UTC)', 'last (UTC)', 'bytes', 'state']
    rows = []
    for n, flow in enumerate(flows[:limit]):
        if stats is not None:
            s = stats[n]
            extra = [utc_text(s.first), utc_text(s.last), f'{s.wire_bytes:,}',
                     'closed' if s.closed else 'open']
        else:
            extra = ['', '', '', '']
        rows.append(f'<tr>{_cells([n, flow.label, len(flow.index)] + extra)}</tr>')
    if len(flows) > limit:
        rows.append(f'<tr><td colspan="{len(titles)}">… {len(flows) - limit:,} more '
                    '(<code>.to_pandas()</code> for all)</td></tr>')
    table = ('<table><thead><tr>' + ''.join(f'<th>{t}</th>' for t in titles) +
             '</tr></thead><tbody>' + ''.join(rows) + '</tbody></table>') if flows else ''
    return f'<div>{head}{table}</div>'


def index_html(index: Any, limit: int = 20) -> str:
    """Rich display of one traced flow (an ``Index``)."""
    frames = tuple(index.index)
    shown = ', '.join(str(n) for n in frames[:limit])
    if len(frames) > limit:
        shown += f', … ({len(frames) - limit:,} more)'
    return (f'<div><b>Index</b> <code>{html.escape(index.label)}</code><br>'
            f'{len(frames):,} packets; frames {html.escape(shown)}<br>'
            f'file: <code>{html.escape(str(index.fpout))}</code></div>')
