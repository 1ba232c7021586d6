"""Type stubs of ``pcapkit_tcpflow._core``, the C core (csrc/binding/*.c).

Every function and method of the module parses its arguments by position
only (METH_O / METH_FASTCALL without keywords), except ``Tracer.trace``'s
keyword-only ``output`` and ``Session()`` (keywords accepted).  The C
docstrings' text signatures mark neither these positional-only arguments
(no ``/``) nor the methods' ``self``; see _core_stubtest_allowlist.txt.
"""

from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import (
    Any,
    Final,
    Literal,
    SupportsFloat,
    SupportsIndex,
    TypedDict,
    final,
    overload,
    type_check_only,
)

from _typeshed import ReadableBuffer, StrOrBytesPath
from typing_extensions import Self, TypeAlias, disjoint_base

PCAP_SNAPLEN: Final = 262144

class FormatError(ValueError):
    """The input is not a readable pcap/pcapng capture."""

# ------------------------------------------------------------- pcap writer

def pcap_create(path: StrOrBytesPath, linktype: int, big_endian: bool, nanosecond: bool, /) -> None:
    """Create (truncate) a pcap file and write its global header."""

def pcap_append(
    path: StrOrBytesPath,
    linktype: int,
    big_endian: bool,
    nanosecond: bool,
    ts_sec: SupportsIndex,
    ts_nsec: int,
    origlen: int,
    data: ReadableBuffer,
    /,
) -> None:
    """Append one record to a pcap file; ts_nsec is the fraction of the second
    in nanoseconds (truncated to microseconds in a microsecond file)."""

# ------------------------------------------------------- label text hooks

def _float_repr(x: SupportsFloat | SupportsIndex, /) -> str: ...
def _time_repr(sec: SupportsIndex, nsec: int, /) -> str: ...
def _address_text(packed: bytes, ipv4_mapped_dotted: bool = False, /) -> str: ...
def _set_defaults(
    index_factory: Callable[[Any, tuple[int, ...], str], Any], index_type: type | None,
    null_dumper: type, /,
) -> None:
    """What Tracer's default hooks use: index_factory(fpout, index, label) makes an
    Index; index_type, when not None, is the Index class whose records may be
    built by setting __map__, __map_reverse__, fpout, index and label on a bare
    instance; null_dumper is the dumper class of no output, made only when a
    flow's dumper is asked for."""

# ------------------------------------------------------------------ Tracer

_Address: TypeAlias = IPv4Address | IPv6Address
#: bufid of an open flow: (src, srcport, dst, dstport), as pcapkit keys its buffers.
_BufferId: TypeAlias = tuple[_Address, int, _Address, int]

@disjoint_base
class Tracer:
    """C flow table under pcapkit_tcpflow.TCP; subclass it, do not use it directly.

    A subclass sets _fproot, _fdpext, _foutio, _endian, _nnsecd and _stream;
    it may override the hooks _open_flow(label, protocol) -> dumper and
    _close_flow(label, frames), whose defaults are done in C (the hooks are
    looked up on the class, not on the instance).
    ``Tracer()`` ignores any constructor arguments (a subclass's
    ``__init__`` takes its own).
    """

    #: Output root folder.
    _fproot: Any
    #: Output file extension (None: no output).
    _fdpext: str | None
    #: Dumper class of the output format.
    _foutio: Any
    #: Byte order of output files.
    _endian: str
    #: Nanosecond-resolution output files.
    _nnsecd: bool
    #: Closed flows' Index records, in the order they closed.
    _stream: list[Any]
    # Cached result of submit(), None after any trace(); any value can be
    # stored (None or deleting clears it).
    _submit_cache: tuple[Any, ...] | None
    @property
    def _open_count(self) -> int:
        """Number of open flows."""

    # A packet is any object with the attributes, or mapping with the keys,
    # src, dst (IPv4Address/IPv6Address, str or bytes), srcport, dstport,
    # fin, index (int), timestamp (a number, only read when a flow opens)
    # and protocol (passed to _open_flow).
    @overload
    def trace(self, packet: object, /, *, output: Literal[False] = False) -> str:
        """Trace one packet; return its flow's label, or with output=True the flow's dumper."""

    @overload
    def trace(self, packet: object, /, *, output: Literal[True]) -> Any: ...
    @overload
    def trace(self, packet: object, /, *, output: bool) -> Any: ...
    def _open_flows(self) -> list[tuple[str, tuple[int, ...], Any, _BufferId]]:
        """List (label, frames, dumper, bufid) of the open flows in the order they were opened."""

    def _open_indexes(self) -> list[Any]:
        """List of the Index records of the open flows in the order they were opened."""

    def _open_flow(self, label: str, protocol: Any, /) -> Any:
        """Hook called when a packet opens a flow; returns the flow's dumper.
        The default makes self._foutio(fname=f'{self._fproot}/{label}{self._fdpext or ""}',
        protocol=protocol, byteorder=self._endian, nanosecond=self._nnsecd)."""

    def _close_flow(self, label: str, frames: tuple[int, ...], /) -> None:
        """Hook called when a FIN closes a flow.  The default makes the flow's Index,
        calls every function of __callback_fn__ with it and appends it to _stream."""

# ----------------------------------------------------------------- Session

@type_check_only
class CaptureInfo(TypedDict):
    """``Session.info``: the capture's global header fields."""

    format: Literal["pcap", "pcapng"]
    byteorder: Literal["little", "big"]
    nanosecond: bool
    linktype: int
    snaplen: int
    version: tuple[int, int]

#: One row of ``Session.flows()``: (label, frames, closed, first_sec,
#: first_nsec, last_sec, last_nsec, wire_bytes, captured_bytes, syn, fin, rst,
#: src, srcport, dst, dstport); src and dst are packed addresses (4 or 16 bytes).
_FlowRow: TypeAlias = tuple[
    str, tuple[int, ...], bool, int, int, int, int, int, int, int, int, int, bytes, int, bytes, int
]

#: One row of ``Session.stats_rows()``: a _FlowRow without label and frames.
_StatsRow: TypeAlias = tuple[bool, int, int, int, int, int, int, int, int, int, bytes, int, bytes, int]

@final
class Session:
    """A native tracing run over one capture file."""

    def __new__(
        cls,
        path: StrOrBytesPath,
        offset: SupportsIndex,
        out_dir: StrOrBytesPath | None,
        ext: str | None,
        big_endian: bool,
        nanosecond: bool,
        max_open_files: SupportsIndex,
        pcapkit_link_types_only: bool,
        seed: SupportsIndex,
        ipv4_mapped_dotted: bool = False,
        fail_alloc_at: SupportsIndex = 0,
        frames_before: SupportsIndex = 0,
    ) -> Self: ...
    def step(self, n: int, /) -> Literal[0, 1] | str:
        """Read up to n records: 0 more to read, 1 end, or the message of a damaged file."""

    def finish(self) -> None:
        """Close the output files."""

    def flows(self) -> list[_FlowRow]:
        """Every flow: open ones in opening order, then closed ones in closing order."""

    def indexes(self, prefix: str | None, ext: str, /) -> list[Any]:
        """The Index record of every flow, in flows() order; its fpout is f'{prefix}{label}{ext}', or None when prefix is None."""

    def stats_rows(self) -> list[_StatsRow]:
        """flows() without label and frames."""

    @property
    def frames(self) -> int:
        """Records read so far."""

    @property
    def traced(self) -> int:
        """TCP segments traced so far."""

    @property
    def allocations(self) -> int:
        """Allocation calls the core has made (for fault-injection tests)."""

    @property
    def clamped(self) -> int:
        """Records written with a time a pcap file cannot hold (clamped)."""

    @property
    def offset(self) -> int:
        """Bytes of the capture consumed so far."""

    @property
    def closed_count(self) -> int:
        """Flows a FIN closed (the last ones of flows())."""

    @property
    def info(self) -> CaptureInfo:
        """The capture's global header fields."""
