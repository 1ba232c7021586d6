"""Type stubs of ``pcapkit_tcpflow._core``, the C core (csrc/binding/*.c).

Every function and method of the module parses its arguments by position
only (METH_O / METH_FASTCALL without keywords), except ``Tracer.trace``'s
keyword-only ``output`` and ``Session()`` (keywords accepted).  The C
docstrings' text signatures mark neither these positional-only arguments
(no ``/``) nor the methods' ``self``; see _core_stubtest_allowlist.txt.
"""

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

# ------------------------------------------------------------------ Tracer

_Address: TypeAlias = IPv4Address | IPv6Address
#: bufid of an open flow: (src, srcport, dst, dstport), as pcapkit keys its buffers.
_BufferId: TypeAlias = tuple[_Address, int, _Address, int]

@disjoint_base
class Tracer:
    """C flow table under pcapkit_tcpflow.TCP; subclass it, do not use it directly.

    Subclasses provide ``_open_flow(label: str, protocol) -> dumper`` (called
    when a packet opens a flow) and ``_close_flow(label: str, frames:
    tuple[int, ...]) -> None`` (called when a FIN closes one); the C code
    looks them up on the instance, they are not attributes of Tracer.
    ``Tracer()`` ignores any constructor arguments (a subclass's
    ``__init__`` takes its own).
    """

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

    def index_rows(self) -> list[tuple[str, tuple[int, ...], bool]]:
        """(label, frames, closed) of every flow, in flows() order."""

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
    def info(self) -> CaptureInfo:
        """The capture's global header fields."""
