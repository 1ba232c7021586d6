"""``pcapkit_tcpflow.extract()``: pcapkit's ``extract()`` for TCP flow tracing,
read, decoded, traced and written by the C core.
"""
from __future__ import annotations

import gc
import io
import ipaddress
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from pcapkit_tcpflow import _compat, _core
from pcapkit_tcpflow._progress import Progress
from pcapkit_tcpflow.dumpers import PCAPDumper
from pcapkit_tcpflow.tcp import TCP

if TYPE_CHECKING:
    import pandas

    from pcapkit_tcpflow._core import CaptureInfo

__all__ = ['extract', 'Extraction', 'FlowStats', 'TraceFlowData', 'TruncatedCaptureWarning',
           'FormatError', 'NATIVE_FORMATS']

#: Raised when the input is not a readable pcap/pcapng capture.
FormatError = _core.FormatError

#: Records read between two checks for Ctrl-C (a few milliseconds of work).
STEP = 1 << 16

#: How this Python prints IPv4-mapped IPv6 addresses (dotted since 3.13).
_MAPPED_DOTTED = str(ipaddress.IPv6Address('::ffff:1.2.3.4')) == '::ffff:1.2.3.4'


class TruncatedCaptureWarning(UserWarning):
    """The capture ended inside a record or is damaged; the flows found in
    the records before the damage are returned."""


class FlowStats(NamedTuple):
    """What the C core counted of a flow while tracing it (same pass).

    Times are ``(seconds, nanoseconds)`` since the epoch, UTC; ``src`` and
    ``dst`` are :mod:`ipaddress` objects made from the packed addresses on
    first use.
    """

    closed: bool
    """Closed by a FIN (otherwise still open at the end of the capture)."""
    first: tuple[int, int]
    """Time of the first packet."""
    last: tuple[int, int]
    """Time of the last packet."""
    wire_bytes: int = 0
    """Sum of the packets' original (on the wire) lengths."""
    captured_bytes: int = 0
    """Sum of the packets' captured lengths."""
    syn: int = 0
    """Packets with SYN set."""
    fin: int = 0
    """Packets with FIN set."""
    rst: int = 0
    """Packets with RST set."""
    src_packed: bytes = b''
    """Source address, packed (4 or 16 bytes)."""
    srcport: int = 0
    """Source port."""
    dst_packed: bytes = b''
    """Destination address, packed (4 or 16 bytes)."""
    dstport: int = 0
    """Destination port."""

    @property
    def src(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        """Source address."""
        return ipaddress.ip_address(self.src_packed)

    @property
    def dst(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        """Destination address."""
        return ipaddress.ip_address(self.dst_packed)


#: Former name of :class:`FlowStats`.
FlowSummary = FlowStats


class TraceFlowData:
    """``extraction.trace``: ``.tcp`` is the tuple of traced flows."""

    __slots__ = ('tcp',)

    def __init__(self, tcp: tuple[Any, ...]) -> None:
        self.tcp = tcp

    def __repr__(self) -> str:
        return f'<TraceFlowData tcp=({len(self.tcp)} flows)>'


class Extraction:
    """The result of :func:`extract`: ``trace.tcp`` (tuple of ``Index``),
    ``length`` (frames read), ``format`` and ``header`` (capture header
    fields).  ``frame`` (the dissected frames) needs pcapkit and is
    computed by it on first use."""

    def __init__(self, fin: str, trace: Any, length: int, info: CaptureInfo,
                 traced: int, truncated: str | None,
                 summaries: tuple[FlowSummary, ...] = (),
                 stats_from: _core.Session | None = None) -> None:
        self._summaries: tuple[FlowStats, ...] | None = \
            summaries if stats_from is None else None
        self._stats_from = stats_from
        self._fin = fin
        self._trace = trace
        self._length = length
        self._info = info
        self._traced = traced
        self._truncated = truncated
        self._frames: tuple[Any, ...] | None = None

    @property
    def trace(self) -> Any:
        """Traced flows: ``trace.tcp``."""
        return self._trace

    @property
    def length(self) -> int:
        """Number of frames (records) read."""
        return self._length

    @property
    def format(self) -> str:
        """Capture format: ``'pcap'`` or ``'pcapng'``."""
        return self._info['format']

    @property
    def header(self) -> dict[str, Any]:
        """Capture header: format, byteorder, nanosecond, linktype, snaplen, version."""
        return dict(self._info)

    @property
    def input(self) -> str:
        """Input file name."""
        return self._fin

    @property
    def traced(self) -> int:
        """Number of TCP segments traced."""
        return self._traced

    @property
    def truncated(self) -> str | None:
        """Why reading stopped early (damaged file), or None."""
        return self._truncated

    @property
    def stats(self) -> tuple[FlowStats, ...]:
        """Per flow, in ``trace.tcp`` order, what the C core counted while
        tracing: closed by FIN, first and last packet times, bytes, SYN/FIN/RST
        counts, addresses and ports (:class:`FlowStats`)."""
        if self._summaries is None:  # made on first use from the core's counts
            gc_was_enabled = gc.isenabled()
            gc.disable()  # many new records at once: no collection is due
            try:
                rows = self._stats_from.stats_rows() if self._stats_from is not None else []
                self._summaries = tuple([
                    FlowStats(r[0], (r[1], r[2]), (r[3], r[4]), r[5], r[6], r[7], r[8], r[9],
                              r[10], r[11], r[12], r[13]) for r in rows])
            finally:
                if gc_was_enabled:
                    gc.enable()
            self._stats_from = None  # the core's tables can go now
        return self._summaries

    #: Former name of :attr:`stats`.
    summaries = stats

    def to_pandas(self) -> pandas.DataFrame:
        """The flows as a :class:`pandas.DataFrame`, one row per flow (see
        :mod:`pcapkit_tcpflow.analysis` for the columns)."""
        from pcapkit_tcpflow.analysis import to_pandas
        return to_pandas(self)

    def to_arrow(self) -> Any:
        """The flows as a :class:`pyarrow.Table` (same columns as
        :meth:`to_pandas`; addresses as text)."""
        from pcapkit_tcpflow.analysis import to_arrow
        return to_arrow(self)

    def _repr_html_(self) -> str:
        from pcapkit_tcpflow.analysis import extraction_html
        return extraction_html(self)

    @property
    def frame(self) -> tuple[Any, ...]:
        """The frames dissected by pcapkit (computed on first use)."""
        if self._frames is None:
            try:
                from pcapkit_tcpflow._install import original_extract
                extract_ = original_extract()
            except ImportError as error:
                raise ImportError('dissected frames need pcapkit: pip install pypcapkit') from error
            self._frames = extract_(fin=self._fin, nofile=True, store=True).frame
        return self._frames

    def __repr__(self) -> str:
        return (f'<Extraction {self._fin!r}: {self._length} frames, '
                f'{len(self._trace.tcp)} TCP flows>')


def _native_reasons(options: dict[str, Any]) -> list[str]:
    """Options that the native path cannot serve."""
    defaults = dict(fout=None, format=None, auto=True, extension=True, files=False, verbose=False,
                    engine=None, layer=None, protocol=None, reassembly=False, ip=False,
                    ipv4=False, ipv6=False, buffer_save=False, buffer_path=None, no_eof=False)
    reasons = [f'{key}={options[key]!r}' for key, value in defaults.items()
               if key in options and options[key] != value
               and not (key == 'engine' and options[key] in ('default', 'pcapkit'))]
    if not options.get('nofile'):
        reasons.append('nofile=False (a dissected output file)')
    if not options.get('trace') or not options.get('tcp'):
        reasons.append('trace=True, tcp=True not both set')
    return reasons


def _input_path(fin: Any) -> tuple[str, int, str | None]:
    """(path, offset, temporary copy to delete) for a path or binary file."""
    if fin is None:
        fin = 'in.pcap'
    if isinstance(fin, (str, bytes, os.PathLike)):
        path = os.fsdecode(fin)
        if os.path.isdir(path):
            raise IsADirectoryError(21, 'Is a directory', path)
        if not os.path.exists(path):
            raise FileNotFoundError(2, 'No such file or directory', path)
        return path, 0, None
    try:
        fd = fin.fileno()
        offset = fin.tell()
    except (AttributeError, OSError, io.UnsupportedOperation):
        fd = None
    if fd is not None:
        return f'/proc/self/fd/{fd}' if os.path.exists('/proc/self/fd') else f'/dev/fd/{fd}', \
            offset, None
    with tempfile.NamedTemporaryFile(prefix='pcapkit-tcpflow-', suffix='.pcap',
                                     delete=False) as tmp:
        shutil.copyfileobj(fin, tmp)
    return tmp.name, 0, tmp.name


def _resolve_output(trace_fout: str | None, trace_format: str | None) -> tuple[str, str | None, bool]:
    """(folder, extension, native) as pcapkit's tracer would set them up."""
    fout = './tmp' if trace_fout is None else trace_fout
    fmt = 'pcap' if trace_format is None else trace_format
    dumper, ext = TCP.make_fout(fout, fmt)
    return fout, ext, dumper is PCAPDumper or ext is None


def extract(fin: str | IO[bytes] | None = None, fout: str | None = None, format: str | None = None,  # noqa: A002
            auto: bool = True, extension: bool = True, store: bool = True,
            files: bool = False, nofile: bool = False, verbose: bool = False,
            engine: str | None = None, layer: Any = None, protocol: Any = None,
            reassembly: bool = False, reasm_strict: bool = True, reasm_store: bool = True,
            trace: bool = False, trace_fout: str | None = None, trace_format: str | None = None,
            trace_byteorder: str = sys.byteorder, trace_nanosecond: bool = False,
            ip: bool = False, ipv4: bool = False, ipv6: bool = False, tcp: bool = False,
            buffer_size: int = io.DEFAULT_BUFFER_SIZE, buffer_save: bool = False,
            buffer_path: str | None = None, no_eof: bool = False, *,
            max_open_files: int | None = None, pcapkit_link_types_only: bool = False,
            progress: bool | None = None, flow_files: bool = True) -> Any:
    """Trace the TCP flows of a capture, as ``pcapkit.extract()`` does.

    Same signature and defaults as ``pcapkit.extract``.  With ``trace=True,
    tcp=True, nofile=True`` and no reassembly, another engine, or a dumper
    that needs pcapkit's dissection, the capture is read, decoded, traced
    and written by the C core and an :class:`Extraction` is returned.  Other
    calls go to pcapkit (with this package's tracer) when it is installed.

    Extra keyword-only options: ``max_open_files`` (flow files kept open at
    once; default: a quarter of the process's descriptor limit, at most
    256), ``pcapkit_link_types_only`` (decode only the link types pcapkit
    decodes: Ethernet, raw IPv4 and IPv6), ``progress`` (a progress bar
    driven by the bytes read, needs tqdm: ``None`` shows one in interactive
    sessions once the work takes half a second, ``True`` always, ``False``
    never; native path only), ``flow_files`` (``False``: write no flow
    files, ``Index.fpout`` is None; native path only).
    """
    options = dict(fin=fin, fout=fout, format=format, auto=auto, extension=extension, store=store,
                   files=files, nofile=nofile, verbose=verbose, engine=engine, layer=layer,
                   protocol=protocol, reassembly=reassembly, reasm_strict=reasm_strict,
                   reasm_store=reasm_store, trace=trace, trace_fout=trace_fout,
                   trace_format=trace_format, trace_byteorder=trace_byteorder,
                   trace_nanosecond=trace_nanosecond, ip=ip, ipv4=ipv4, ipv6=ipv6, tcp=tcp,
                   buffer_size=buffer_size, buffer_save=buffer_save, buffer_path=buffer_path,
                   no_eof=no_eof)
    reasons = _native_reasons(options)
    native_output = True
    if not flow_files:
        if reasons:
            raise ValueError('flow_files=False needs the native path (trace=True, tcp=True, '
                             f'nofile=True); not with {", ".join(reasons)}')
        if trace_fout is not None or trace_format is not None:
            raise ValueError('flow_files=False writes no files: trace_fout and trace_format '
                             'must be None')
        return _run_native(fin, None, None, trace_byteorder == 'big', bool(trace_nanosecond),
                           max_open_files, pcapkit_link_types_only, progress=progress)
    if not reasons:
        if trace_byteorder not in ('little', 'big'):
            raise ValueError(f"trace_byteorder must be 'little' or 'big', not {trace_byteorder!r}")
        out_dir, ext, native_output = _resolve_output(trace_fout, trace_format)
        if not native_output:
            reasons.append(f'trace_format={trace_format!r} (a dumper of dissected frames)')
    if reasons:
        return _with_pcapkit(options, reasons)
    return _run_native(fin, out_dir, ext, trace_byteorder == 'big', bool(trace_nanosecond),
                       max_open_files, pcapkit_link_types_only, progress=progress)


def _with_pcapkit(options: dict[str, Any], reasons: Iterable[str]) -> Any:
    try:
        from pcapkit.foundation.extraction import Extractor

        from pcapkit_tcpflow._install import original_extract
    except ImportError as error:
        raise ImportError(
            'pcapkit_tcpflow.extract() runs natively only for TCP flow tracing with '
            'trace=True, tcp=True, nofile=True and a pcap (or no) output format; these '
            f'options need pcapkit: {", ".join(reasons)}. Install it: pip install pypcapkit'
        ) from error
    traceflow = Extractor.__traceflow__
    saved = traceflow.get('tcp')
    traceflow['tcp'] = TCP  # type: ignore[assignment]  # a virtual TraceFlow subclass
    try:
        return original_extract()(**options)
    finally:
        if saved is None:  # there was no 'tcp' entry: leave none, not None
            traceflow.pop('tcp', None)
        else:
            traceflow['tcp'] = saved


def _default_open_files() -> int:
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 64
    if soft == resource.RLIM_INFINITY:
        return 256
    return max(1, min(256, soft // 4))


def _run_native(fin: Any, out_dir: str | None, ext: str | None, big: bool, nsec: bool,
                max_open_files: int | None, link_types_only: bool,
                callbacks: Iterable[Callable[[Any], object]] | None = None,
                progress: bool | None = False) -> Extraction:
    if max_open_files is None:
        max_open_files = _default_open_files()
    path, offset, temporary = _input_path(fin)
    try:
        session = _core.Session(path, offset, out_dir if ext is not None else None, ext or '',
                                big, nsec, max(1, int(max_open_files)), link_types_only,
                                int.from_bytes(os.urandom(8), 'little'), _MAPPED_DOTTED)
        truncated = None
        failure: OSError | None = None
        bar = Progress(progress, os.path.getsize(path), os.path.basename(path))
        try:
            while True:
                status = session.step(STEP)
                bar.update(session.offset)
                if status == 1:
                    break
                if isinstance(status, str):
                    truncated = status
                    break
        except OSError as error:  # a flow file could not be written
            failure = error
        finally:
            bar.close(None if failure else session.offset)
            try:
                session.finish()
            except OSError as error:
                failure = failure or error
        info = session.info
    finally:
        if temporary is not None:
            os.unlink(temporary)
    name = os.fsdecode(fin) if isinstance(fin, (str, bytes, os.PathLike)) else \
        getattr(fin, 'name', '<stream>')
    if truncated is not None:
        warnings.warn(f'{name}: {truncated}; the flows of the {session.frames} frames read '
                      'before it are returned', TruncatedCaptureWarning, stacklevel=3)
    if session.clamped:
        warnings.warn(f'{name}: {session.clamped} records have times outside what a pcap file '
                      'can hold (0 to 2**32-1 s); their flow files hold the nearest time',
                      TruncatedCaptureWarning, stacklevel=3)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of new records: no collection is due
    try:
        # open flows first, then the closed ones (pcapkit's order)
        flows = session.indexes(None if ext is None else f'{out_dir}/', ext or '')
        closed = flows[len(flows) - session.closed_count:]
    finally:
        if gc_was_enabled:
            gc.enable()
    if failure is None:
        for index in closed:
            for callback in (TCP.__callback_fn__ if callbacks is None else callbacks):
                callback(index)
    data = _trace_data(tuple(flows))
    # the per-flow statistics stay in the core until asked for
    result = Extraction(name, data, session.frames, info, session.traced, truncated,
                        stats_from=session)
    if failure is not None:
        # the flows found so far travel with the error; files hold whole records
        failure.extraction = result  # type: ignore[attr-defined]
        raise failure
    return result




def _trace_data(flows: tuple[Any, ...]) -> Any:
    if _compat.HAVE_PCAPKIT:
        from pcapkit.foundation.traceflow.data import TraceFlowData as PcapkitTraceFlowData
        return PcapkitTraceFlowData(tcp=flows)
    return TraceFlowData(flows)
