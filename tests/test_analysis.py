"""Analysis in a notebook: flows() as pandas/arrow, progress, rich display, plots.

The table is checked flow for flow against extract() on every real capture
of the corpus, its statistics against an independent reading of the
capture (tests/capread.py for lengths and times, dpkt for TCP flags).
"""
from __future__ import annotations

import ipaddress
import os
import pathlib
import subprocess
import sys

import pandas as pd
import pytest

import capread
import pcapkit_tcpflow
from pcapkit_tcpflow import _progress, analysis
from pcapkit_tcpflow import plot as flowplot


ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / 'examples' / 'sample.pcap')
CORPUS_REAL = pathlib.Path(__file__).resolve().parent.parent.parent / 'shared' / 'corpus' / 'real'
REAL = sorted(p.name for p in CORPUS_REAL.iterdir()) if CORPUS_REAL.is_dir() else ['missing']


def _extract(path, **options):
    return pcapkit_tcpflow.extract(path, nofile=True, trace=True, tcp=True, flow_files=False,
                                   **options)


def _ns(series):
    return [None if pd.isna(v) else v.value for v in series]


def _tcp_flags(record):
    """TCP flags of an Ethernet/Linux-cooked/raw frame, read by dpkt (None if
    dpkt finds no TCP header)."""
    import dpkt
    try:
        if record.linktype == 1:
            layer = dpkt.ethernet.Ethernet(record.data)
        elif record.linktype == 113:
            layer = dpkt.sll.SLL(record.data)
        elif record.linktype in (101, 12):
            layer = dpkt.ip.IP(record.data) if record.data[0] >> 4 == 4 else \
                dpkt.ip6.IP6(record.data)
        else:
            return None
    except (dpkt.UnpackError, IndexError):
        return None
    while not isinstance(layer, (dpkt.tcp.TCP, bytes)):
        layer = getattr(layer, 'data', b'')
    return layer.flags if isinstance(layer, dpkt.tcp.TCP) else None


@pytest.mark.parametrize('name', REAL)
def test_table_matches_extract_on_the_corpus(corpus, name):
    path = str(corpus / 'real' / name)
    result = _extract(path)
    table = pcapkit_tcpflow.flows(path)
    flows = result.trace.tcp
    assert list(table.columns) == list(analysis.COLUMNS)
    assert len(table) == len(flows)
    assert list(table['label']) == [f.label for f in flows]
    assert list(table['frames']) == [tuple(f.index) for f in flows]
    assert list(table['packets']) == [len(f.index) for f in flows]
    assert list(table['file']) == [None] * len(flows)
    assert list(table['closed']) == [s.closed for s in result.stats]

    records = capread.read_capture(path)
    flagged = checked = 0
    for row in table.itertuples(index=False):
        mine = [records[n - 1] for n in row.frames]
        assert row.wire_bytes == sum(r.origlen for r in mine)
        assert row.captured_bytes == sum(r.caplen for r in mine)
        times = [int(r.time * 10**9 // 1) for r in mine]
        times = [t if -2**63 < t < 2**63 else None for t in times]  # else NaT (documented)
        assert _ns([row.first, row.last]) == [times[0], times[-1]]
        if None not in (times[0], times[-1]):
            assert row.duration.value == times[-1] - times[0]
            assert row.first.tzinfo is not None
        else:
            assert pd.isna(row.duration)
        # the label is pcapkit's text of the same addresses and ports
        assert isinstance(row.src, (ipaddress.IPv4Address, ipaddress.IPv6Address))
        src, dst = (str(a).replace(':', '.') if a.version == 6 else str(a)
                    for a in (row.src, row.dst))
        assert row.label.startswith(f'{src}_{row.srcport}-{dst}_{row.dstport}-')
        flags = [_tcp_flags(r) for r in mine]
        if None not in flags:
            checked += 1
            assert (row.syn, row.fin, row.rst) == (
                sum(bool(f & 2) for f in flags), sum(bool(f & 1) for f in flags),
                sum(bool(f & 4) for f in flags)), row.label
            flagged += row.syn + row.fin + row.rst
    if len(table) and records[0].linktype in (1, 101, 113):
        assert checked > 0  # dpkt read the flags of the flows of this capture

    arrow = pcapkit_tcpflow.flows(path, as_arrow=True)
    assert arrow.column_names == list(analysis.COLUMNS)
    assert arrow.column('label').to_pylist() == list(table['label'])
    assert arrow.column('src').to_pylist() == [str(a) for a in table['src']]
    assert arrow.column('frames').to_pylist() == [list(f) for f in table['frames']]
    for name_ in ('wire_bytes', 'captured_bytes', 'syn', 'fin', 'rst', 'packets', 'closed'):
        assert arrow.column(name_).to_pylist() == list(table[name_])
    assert _ns(arrow.column('first').to_pandas()) == _ns(table['first'])


def test_flag_counts_hand_computed(tmp_path):
    """The sample: each connection's client flow has 1 SYN and 1 FIN, the
    server's SYN/ACK flow 1 SYN and 1 FIN; the trailing ACK opens a new flow."""
    table = pcapkit_tcpflow.flows(SAMPLE)
    closed = table[table['closed']]
    assert len(closed) == 20
    assert set(zip(closed['syn'], closed['fin'], closed['rst'])) == {(1, 1, 0)}
    assert set(closed['packets']) == {3, 4}
    open_ = table[~table['closed']]
    assert sorted(open_['packets']) == [1] * 11
    syn_only = open_[open_['syn'] == 1]
    assert list(syn_only['dstport']) == [22]
    assert syn_only.iloc[0]['src'] == ipaddress.ip_address('192.0.2.99')
    # bytes: 54-byte IPv4 frames, 74-byte IPv6 frames, plus payloads
    v6 = open_[[a.version == 6 for a in open_['src']]]
    assert set(v6['wire_bytes']) == {74}


def test_flows_writes_files_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    table = pcapkit_tcpflow.flows(SAMPLE)
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / 'out'
    table = pcapkit_tcpflow.flows(SAMPLE, trace_fout=str(out))
    assert all(os.path.isfile(f) for f in table['file'])
    assert sorted(os.listdir(out)) == sorted(os.path.basename(f) for f in table['file'])


def test_flow_files_false_needs_the_native_path():
    with pytest.raises(ValueError, match='native'):
        pcapkit_tcpflow.extract(SAMPLE, nofile=False, trace=True, tcp=True, flow_files=False)
    with pytest.raises(ValueError, match='trace_fout'):
        _extract(SAMPLE, trace_fout='somewhere')


@pytest.mark.parametrize('module, extra, call', [
    ('pandas', 'pandas', 'p.flows(SAMPLE)'),
    ('pyarrow', 'arrow', 'p.flows(SAMPLE, as_arrow=True)'),
    ('matplotlib', 'plot', 'p.plot.timeline(p.extract(SAMPLE, nofile=True, trace=True, '
                           'tcp=True, flow_files=False))'),
    ('tqdm', 'progress', 'p.extract(SAMPLE, nofile=True, trace=True, tcp=True, '
                         'flow_files=False, progress=True)'),
])
def test_missing_extra_names_it(module, extra, call):
    code = (f'import sys; sys.modules[{module!r}] = None\n'
            'import pcapkit_tcpflow as p\n'
            f'SAMPLE = {SAMPLE!r}\n'
            'try:\n'
            f'    {call}\n'
            'except ImportError as e:\n'
            '    print(e)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    assert f'pcapkit-tcpflow[{extra}]' in out


def test_datetimes_outside_nanosecond_range_are_missing():
    stats = pcapkit_tcpflow.FlowStats(True, (10**11, 0), (10**11, 5))
    assert analysis._nanoseconds(stats.first) is None
    assert analysis._nanoseconds((1_700_000_000, 5)) == 1_700_000_000_000_000_005


# ----------------------------------------------------------------- progress

def _big_sample(tmp_path, copies=40):
    """The sample's records repeated: a capture of a few hundred kB."""
    data = open(SAMPLE, 'rb').read()
    path = tmp_path / 'big.pcap'
    path.write_bytes(data + data[24:] * copies)
    return path


def test_progress_true_shows_bytes_read(tmp_path, capsys):
    path = _big_sample(tmp_path)
    _extract(str(path), progress=True)
    err = capsys.readouterr().err
    size = os.path.getsize(path)
    assert 'big.pcap' in err
    assert '100%' in err
    assert f'{size / 1024:.0f}' in err or f'{size / 1024:.1f}' in err  # total, in KiB


def test_progress_default_is_silent_when_not_interactive(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_progress, 'DELAY', 0.0)
    assert not _progress.interactive()
    _extract(str(_big_sample(tmp_path)))
    assert capsys.readouterr().err == ''


def test_progress_default_shows_in_interactive_sessions(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_progress, 'DELAY', 0.0)
    monkeypatch.setattr(sys, 'ps1', '>>> ', raising=False)
    assert _progress.interactive()
    _extract(str(_big_sample(tmp_path)))
    assert '100%' in capsys.readouterr().err
    _extract(str(_big_sample(tmp_path)), progress=False)
    assert capsys.readouterr().err == ''


def test_progress_waits_before_showing(tmp_path, capsys, monkeypatch):
    """A capture read within DELAY shows no bar even when interactive."""
    monkeypatch.setattr(_progress, 'DELAY', 3600.0)
    monkeypatch.setattr(sys, 'ps1', '>>> ', raising=False)
    _extract(SAMPLE)
    assert capsys.readouterr().err == ''


def test_cli_progress_flag(tmp_path, capsys):
    from pcapkit_tcpflow.__main__ import main
    path = _big_sample(tmp_path)
    assert main([str(path)]) == 0
    assert '100%' not in capsys.readouterr().err
    assert main(['--progress', str(path)]) == 0
    captured = capsys.readouterr()
    assert '100%' in captured.err
    assert 'flows' in captured.out


# ------------------------------------------------------------- rich display

def test_extraction_html():
    result = _extract(SAMPLE)
    text = result._repr_html_()
    assert '81 frames' in text and '31 flows' in text and '20 closed by FIN' in text
    assert result.trace.tcp[0].label in text
    assert text.count('<tr>') == 1 + 10 + 1  # header, 10 flows, "21 more"
    assert '21 more' in text
    assert '2023-11-14 22:13:20.875000' in text  # first packet, UTC


def test_extraction_html_escapes(tmp_path):
    path = tmp_path / '<b>&.pcap'
    path.write_bytes(open(SAMPLE, 'rb').read())
    text = _extract(str(path))._repr_html_()
    assert '<b>&amp;' not in text and '&lt;b&gt;&amp;.pcap' in text


def test_index_html_for_pcapkit_and_own_records():
    result = _extract(SAMPLE)
    index = result.trace.tcp[-1]
    text = analysis.index_html(index)
    assert index.label in text and f'{len(index.index)} packets' in text
    from pcapkit_tcpflow.index import Index
    own = Index(fpout=None, index=tuple(range(1, 30)), label='x<y')
    assert own._repr_html_() == analysis.index_html(own)
    assert 'x&lt;y' in own._repr_html_() and '9 more' in own._repr_html_()


def test_ipython_shows_pcapkit_index_as_html():
    """IPython's formatter is registered for the Index class in use (pcapkit's
    when installed) without changing that class."""
    code = (
        'from IPython.core.interactiveshell import InteractiveShell\n'
        'shell = InteractiveShell.instance()\n'
        'import pcapkit_tcpflow as p\n'
        f'r = p.extract({SAMPLE!r}, nofile=True, trace=True, tcp=True, flow_files=False)\n'
        'data, _ = shell.display_formatter.format(r.trace.tcp[0])\n'
        'print(data["text/html"][:12])\n'
        'data, _ = shell.display_formatter.format(r)\n'
        'print("31 flows" in data["text/html"])\n'
        'print(hasattr(type(r.trace.tcp[0]), "_repr_html_") == (not p.HAVE_PCAPKIT))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.split('\n')
    assert out[:3] == ['<div><b>Inde', 'True', 'True']


# -------------------------------------------------------------------- plots

def _png(ax, tmp_path, name):
    import matplotlib.image
    path = tmp_path / name
    ax.figure.savefig(path, dpi=50)
    image = matplotlib.image.imread(path)
    return ax.figure.get_size_inches(), image


def _pixels(image, colour):
    import numpy
    rgb = numpy.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((abs(image[:, :, :3] - rgb).max(axis=2) < 0.02).sum())


def test_timeline_png(tmp_path):
    import matplotlib
    matplotlib.use('Agg')
    table = pcapkit_tcpflow.flows(SAMPLE)
    ax = flowplot.timeline(table)
    size, image = _png(ax, tmp_path, 'timeline.png')
    assert image.shape[:2] == (round(size[1] * 50), round(size[0] * 50))
    assert _pixels(image, flowplot.CLOSED_COLOUR) > 200
    assert _pixels(image, flowplot.OPEN_COLOUR) > 20
    assert len(ax.get_yticklabels()) == 31
    # from the Extraction directly: the same bars
    ax2 = flowplot.timeline(_extract(SAMPLE))
    segments = [s.tolist() for s in ax.collections[0].get_segments()]
    assert [s.tolist() for s in ax2.collections[0].get_segments()] == segments


def test_packets_per_flow_png(tmp_path):
    import matplotlib
    matplotlib.use('Agg')
    ax = flowplot.packets_per_flow(_extract(SAMPLE))
    size, image = _png(ax, tmp_path, 'hist.png')
    assert image.shape[:2] == (round(size[1] * 50), round(size[0] * 50))
    heights = sorted(round(p.get_height()) for p in ax.patches if p.get_height())
    # closed flows: 10 with 3 packets, 10 with 4; open: 11 with 1
    assert heights == [10, 10, 11]
    assert _pixels(image, flowplot.CLOSED_COLOUR) > 100


def test_plot_refuses_other_data():
    with pytest.raises(TypeError, match='Extraction'):
        flowplot.timeline([1, 2, 3])


def test_notebook_example_runs(tmp_path):
    """examples/analysis.ipynb runs top to bottom in a kernel (nbclient)."""
    import nbclient
    import nbformat
    notebook = nbformat.read(ROOT / 'examples' / 'analysis.ipynb', as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name='python3',
                                     resources={'metadata': {'path': str(ROOT / 'examples')}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == 'code' for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == 'error']
    html = [o for o in outputs if 'text/html' in o.get('data', {})]
    pngs = [o for o in outputs if 'image/png' in o.get('data', {})]
    assert html and len(pngs) >= 2
