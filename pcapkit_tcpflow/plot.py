"""Pictures of traced flows (matplotlib: ``pip install 'pcapkit-tcpflow[plot]'``).

Each function takes an :class:`~pcapkit_tcpflow.Extraction` or the table of
:func:`~pcapkit_tcpflow.flows` (a pandas DataFrame), draws on ``ax`` (a new
figure when None) and returns the axes.
"""
from __future__ import annotations

import datetime
import math
from typing import Any

__all__ = ['timeline', 'packets_per_flow', 'CLOSED_COLOUR', 'OPEN_COLOUR']

#: Colours of flows closed by a FIN and of flows still open at the end.
CLOSED_COLOUR = '#1f77b4'
OPEN_COLOUR = '#ff7f0e'

_UTC = datetime.timezone.utc


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError('plots need matplotlib: pip install "pcapkit-tcpflow[plot]"') \
            from error
    return plt


def _axes(ax: Any, size: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=size, layout='constrained')
    return ax


def _when(sec: int, nsec: int) -> datetime.datetime:
    base = datetime.datetime(1970, 1, 1, tzinfo=_UTC)
    return base + datetime.timedelta(seconds=sec, microseconds=nsec // 1000)


def _rows(data: Any) -> tuple[list[datetime.datetime], list[datetime.datetime], list[bool],
                              list[int], list[str]]:
    """(first, last, closed, packets, label) per flow, from either input."""
    if hasattr(data, 'stats') and hasattr(data, 'trace'):
        stats = data.stats
        flows = data.trace.tcp
        if len(stats) != len(flows):
            raise ValueError('this extraction has no per-flow statistics (not a native run)')
        return ([_when(*s.first) for s in stats], [_when(*s.last) for s in stats],
                [bool(s.closed) for s in stats], [len(f.index) for f in flows],
                [f.label for f in flows])
    columns = {'first', 'last', 'closed', 'packets', 'label'}
    if not columns <= set(getattr(data, 'columns', ())):
        raise TypeError('expected an Extraction or the DataFrame of pcapkit_tcpflow.flows()')
    return (list(data['first'].dt.to_pydatetime()), list(data['last'].dt.to_pydatetime()),
            [bool(v) for v in data['closed']], [int(v) for v in data['packets']],
            [str(v) for v in data['label']])


def timeline(data: Any, ax: Any = None, *, labels: bool | None = None) -> Any:
    """One horizontal bar per flow, from its first to its last packet,
    coloured by state (closed by FIN or open); flows top to bottom in
    ``extract()``'s order.  ``labels``: write flow labels on the y axis
    (default: when there are at most 40 flows)."""
    _pyplot()
    import matplotlib.dates as mdates
    from matplotlib.lines import Line2D

    first, last, closed, _, names = _rows(data)
    ax = _axes(ax, (10, max(2.5, min(12, 0.25 * len(first) + 1.5))))
    if first:
        start = mdates.date2num(first)
        end = mdates.date2num(last)
        span = max(max(end) - min(start), 1e-9)
        end = [max(e, s + span / 400) for s, e in zip(start, end)]  # instants stay visible
        ys = list(range(len(first)))
        colours = [CLOSED_COLOUR if c else OPEN_COLOUR for c in closed]
        width = max(1.0, min(8.0, 300 / len(ys)))
        ax.hlines(ys, start, end, colors=colours, linewidth=width)
        ax.set_ylim(len(ys) - 0.5, -0.5)
        ax.set_xlim(min(start) - span / 50, max(end) + span / 50)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=_UTC))
    if labels is None:
        labels = len(names) <= 40
    if labels and names:
        ax.set_yticks(range(len(names)), names, fontsize=7)
    else:
        ax.set_ylabel('flow (in order of first packet)')
    ax.set_xlabel('time (UTC)')
    ax.set_title(f'{len(first)} TCP flows')
    ax.legend(handles=[Line2D([], [], color=CLOSED_COLOUR, lw=4, label='closed by FIN'),
                       Line2D([], [], color=OPEN_COLOUR, lw=4, label='open at the end')],
              loc='lower right', fontsize=8)
    return ax


def packets_per_flow(data: Any, ax: Any = None, *, bins: int = 30) -> Any:
    """Histogram of the number of packets per flow (logarithmic bins when the
    counts span more than two decades)."""
    _pyplot()
    _, _, closed, packets, _ = _rows(data)
    ax = _axes(ax, (6, 4))
    if packets:
        low, high = min(packets), max(packets)
        if high / low > 100:
            edges = [low * (high / low) ** (i / bins) for i in range(bins + 1)]
            edges[-1] = high + 1
            ax.set_xscale('log')
        else:
            step = max(1, math.ceil((high - low + 1) / bins))
            edges = [low - 0.5 + i * step for i in range((high - low) // step + 2)]
        ax.hist([[p for p, c in zip(packets, closed) if c],
                 [p for p, c in zip(packets, closed) if not c]], bins=edges, stacked=True,
                color=[CLOSED_COLOUR, OPEN_COLOUR], edgecolor='white', label=['closed by FIN', 'open at the end'])
        ax.legend(fontsize=8)
    ax.set_xlabel('packets in the flow')
    ax.set_ylabel('flows')
    ax.set_title(f'Packets per flow ({len(packets)} flows)')
    return ax
