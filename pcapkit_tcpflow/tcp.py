"""The drop-in TCP flow tracer: pcapkit's ``TCP`` with a C flow table."""
from __future__ import annotations

import abc
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pcapkit_tcpflow import _compat, _core
from pcapkit_tcpflow.dumpers import OUTPUT, NullDumper, resolve_dumper

if TYPE_CHECKING:
    from collections import defaultdict

__all__ = ['TCP', 'TraceFlowMeta']


class TraceFlowMeta(abc.ABCMeta):
    """Gives the tracer class ``name`` and ``protocol`` as pcapkit's does."""

    @property
    def name(cls) -> str:
        """Protocol name of the tracer."""
        return getattr(cls, '__protocol_name__', cls.__name__)

    @property
    def protocol(cls) -> Any:
        """Protocol class of the tracer (pcapkit's TCP; None without pcapkit)."""
        return getattr(cls, '__protocol_type__', None)


class TCP(_core.Tracer, metaclass=TraceFlowMeta):
    """Trace TCP flows, as ``pcapkit.foundation.traceflow.tcp.TCP`` does.

    Args:
        fout: output folder (None: ``'./tmp'``)
        format: output format (None: ``'pcap'``)
        byteorder: byte order of pcap output files
        nanosecond: write nanosecond-resolution pcap files

    A flow is the packets of one direction of a connection, keyed by
    (source address, source port, destination address, destination port).
    A packet with FIN set is added to its flow and closes it; the next packet
    with the same key starts a new flow.  SYN and RST change nothing.
    """

    #: Protocol name of the tracer.
    __protocol_name__: ClassVar[str] = 'TCP'
    #: Protocol class of the tracer.
    __protocol_type__: ClassVar[Any] = _compat.TCP_Protocol
    #: Output formats: name -> (dumper class or module descriptor, extension).
    __output__: ClassVar[defaultdict[str, tuple[Any, str | None]]] = OUTPUT
    #: Functions called with each Index when a FIN closes its flow.
    __callback_fn__: ClassVar[list[Callable[[Any], None]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__callback_fn__ = []

    def __init__(self, fout: str | None, format: str | None,  # noqa: A002
                 byteorder: str = sys.byteorder, nanosecond: bool = False) -> None:
        if fout is None:
            fout = './tmp'
        if format is None:
            format = 'pcap'  # noqa: A001
        if byteorder not in ('little', 'big'):
            raise ValueError(f"byteorder must be 'little' or 'big', not {byteorder!r}")
        #: Output root folder.
        self._fproot = fout
        #: Closed flows, in the order they closed.
        self._stream: list[Any] = []
        #: Byte order of output files.
        self._endian = byteorder
        #: Nanosecond-resolution output files.
        self._nnsecd = nanosecond
        fio, ext = self.make_fout(fout, format)
        #: Dumper class of the output format.
        self._foutio = fio
        #: Output file extension (None: no output).
        self._fdpext = ext

    # ------------------------------------------------------------ properties

    @property
    def name(self) -> str:
        """Protocol name of the tracer."""
        return self.__protocol_name__

    @property
    def protocol(self) -> Any:
        """Protocol class of the tracer."""
        return self.__protocol_type__

    @property
    def index(self) -> tuple[Any, ...]:
        """Traced flows so far (the same as :meth:`submit`)."""
        if self._open_count:
            return self.submit()
        return tuple(self._stream)

    @property
    def _buffer(self) -> dict[tuple[Any, int, Any, int], Any]:
        """Open flows as pcapkit keeps them: ``{BUFID: Buffer}`` (a snapshot)."""
        return {bufid: _compat.Buffer(fpout=dumper, index=list(frames), label=label)
                for label, frames, dumper, bufid in self._open_flows()}

    # ---------------------------------------------------------- class methods

    @classmethod
    def register_dumper(cls, format: str, dumper: Any, ext: str) -> None:  # noqa: A002
        """Register an output format: a dumper class (or module descriptor) and extension."""
        if isinstance(dumper, _compat.ModuleDescriptor):
            dumper = dumper.klass
        base = _compat.dictdumper_base() or object
        if not isinstance(dumper, type) or not issubclass(dumper, base):
            raise _compat.RegistryError(f'dumper must be a Dumper subclass, not {dumper!r}')
        if format in cls.__output__:
            _compat.warn(f'dumper {format} already registered, overwriting', _compat.RegistryWarning)
        cls.__output__[format] = (dumper, ext)

    @classmethod
    def register_callback(cls, callback: Callable[[Any], None], *, index: int | None = None) -> None:
        """Call ``callback(Index)`` whenever a FIN closes a flow."""
        if index is not None:
            cls.__callback_fn__.insert(index, callback)
        else:
            cls.__callback_fn__.append(callback)

    @classmethod
    def make_fout(cls, fout: str = './tmp', fmt: str = 'pcap') -> tuple[type, str | None]:
        """Create the output folder; return the dumper class and file extension.

        An unknown format warns and disables output (extension None).  An
        existing path that is not a folder raises ``FileExists`` (a warning
        for an unknown format).
        """
        output, ext = cls.__output__[fmt]
        if ext is None:
            _compat.warn(f'Unsupported output format: {fmt}; disabled file output feature',
                         _compat.FormatWarning)
        klass, native = resolve_dumper(output)
        try:
            os.makedirs(fout, exist_ok=True)
        except FileExistsError as error:
            if ext is None:
                # an OSError raised by os.makedirs always has its strerror
                _compat.warn(cast(str, error.strerror), _compat.FileWarning)
            else:
                raise _compat.FileExists(*error.args).with_traceback(error.__traceback__)
        return (klass if native else _compat.make_dumper(klass)), ext

    # --------------------------------------------------------------- methods

    def __call__(self, packet: Any) -> None:
        """Trace a packet and write it to its flow's file."""
        self.dump(packet)

    def dump(self, packet: Any) -> None:
        """Trace a packet and write it to its flow's file."""
        output = self.trace(packet, output=True)
        output(packet.frame, name=f'Frame {packet.index}')

    def submit(self) -> tuple[Any, ...]:
        """All flows: open ones in the order they opened, then closed ones in
        the order they closed.  The same tuple until the next :meth:`trace`."""
        cached = self._submit_cache
        if cached is not None:
            return cached
        ret = self._open_indexes()
        ret.extend(self._stream)
        result = tuple(ret)
        self._submit_cache = result
        return result

# The C tracer's default hooks: Index records as _compat makes them, and
# the "no output" dumper made only for a flow whose dumper is asked for.
_core._set_defaults(_compat.index_factory(), _compat.index_fast_type(), NullDumper)

if _compat.HAVE_PCAPKIT:
    # pcapkit's Extractor.register_traceflow() accepts TraceFlow subclasses
    # only.  Registering TCP as a virtual subclass of that ABC lets it pass
    # without inheriting pcapkit's __init_subclass__ (which would register
    # this class with pcapkit's Extractor on import).
    _compat.pcapkit_traceflow_bases()[0].register(TCP)
