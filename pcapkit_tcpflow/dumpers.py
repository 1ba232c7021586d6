"""Output dumpers: the pcap writer of the C core and the format registry.

``'pcap'`` and ``'cap'`` files are written by the C core.  Other formats use
the same dumpers as pcapkit (dictdumper's JSON, PLIST and Tree), so their
output is pcapkit's.
"""
from __future__ import annotations

import collections
import decimal
import math
import sys
from typing import Any, cast

from pcapkit_tcpflow import _compat, _core

__all__ = ['PCAPDumper', 'NullDumper', 'OUTPUT', 'resolve_dumper']

_DumperBase: type = _compat.dictdumper_base() or object


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a frame: attribute first, then mapping key."""
    try:
        return getattr(obj, name)
    except AttributeError:
        pass
    if isinstance(obj, collections.abc.Mapping):
        return obj.get(name, default)
    return default


def _linktype(protocol: Any) -> int:
    """The link-type number of an int, an int enum, or (with pcapkit) a name."""
    try:
        return int(protocol)
    except (TypeError, ValueError):
        pass
    if isinstance(protocol, str) and _compat.HAVE_PCAPKIT:
        from pcapkit.const.reg.linktype import LinkType
        try:
            # aenum's IntEnum: mypy does not see its metaclass's __getitem__
            return int(cast(Any, LinkType)[protocol])
        except KeyError:
            pass
    raise ValueError(f'unknown link type: {protocol!r}')


def _split(epoch: Any) -> tuple[int, int]:
    """(seconds, nanoseconds) of an epoch, truncating below 1 ns."""
    if isinstance(epoch, float):
        if not math.isfinite(epoch):
            raise ValueError(f'timestamp {epoch!r} cannot be stored in a pcap record')
        epoch = decimal.Decimal(epoch)
    elif not isinstance(epoch, decimal.Decimal):
        epoch = decimal.Decimal(epoch)
    sec = int(epoch.to_integral_value(rounding=decimal.ROUND_FLOOR))
    nsec = int((epoch - sec) * 1_000_000_000)
    return sec, nsec


def record_time(frame: Any) -> tuple[int, int]:
    """(seconds, nanoseconds) of a frame given to a dumper.

    pcapkit's frame records hold ``frame_info.ts_sec``/``ts_usec`` (the
    capture's raw fields, micro- or nanoseconds) and the exact epoch
    ``time_epoch``.  The epoch tells which unit the raw fraction is in; the
    raw fields are used when they agree with it (so a capture's fields are
    copied), the epoch otherwise.  A fraction of a second or more is carried
    into the seconds.
    """
    info = _get(frame, 'frame_info')
    epoch = _get(frame, 'time_epoch')
    sec = _get(info, 'ts_sec') if info is not None else None
    frac = _get(info, 'ts_usec') if info is not None else None
    if isinstance(sec, int) and isinstance(frac, int) and sec >= 0 and frac >= 0:
        if epoch is None:
            nsec = frac * 1000
        else:
            exact = epoch if isinstance(epoch, decimal.Decimal) else decimal.Decimal(epoch)
            if sec + decimal.Decimal(frac).scaleb(-6) == exact:
                nsec = frac * 1000
            elif sec + decimal.Decimal(frac).scaleb(-9) == exact:
                nsec = frac
            else:
                return _split(exact)
        return sec + nsec // 1_000_000_000, nsec % 1_000_000_000
    if epoch is None:
        epoch = _get(frame, 'timestamp')
    if epoch is None:
        raise TypeError('frame has neither frame_info.ts_sec/ts_usec nor time_epoch')
    return _split(epoch)


class PCAPDumper(_DumperBase):  # type: ignore[misc]
    """pcap file of one flow, written by the C core.

    Same constructor and call as pcapkit's ``PCAPIO``: the global header is
    written at construction (version 2.4, thiszone 0, sigfigs 0, snaplen
    262144, ``protocol`` as link type, magic for ``byteorder`` and
    ``nanosecond``); each call appends one frame and returns the dumper.
    """

    def __new__(cls, fname: str, **kwargs: Any) -> PCAPDumper:  # noqa: D102
        return object.__new__(cls)

    def __init__(self, fname: str, *, protocol: Any, byteorder: str = sys.byteorder,
                 nanosecond: bool = False, **kwargs: Any) -> None:
        if byteorder not in ('little', 'big'):
            raise ValueError(f"byteorder must be 'little' or 'big', not {byteorder!r}")
        self._file = fname
        self._link = _linktype(protocol)
        self._big = byteorder == 'big'
        self._nsec = bool(nanosecond)
        self._fnum = 1
        _core.pcap_create(fname, self._link, self._big, self._nsec)

    @property
    def kind(self) -> str:
        """File format of this dumper."""
        return 'pcap'

    @property
    def filename(self) -> str:
        """Output file name."""
        return self._file

    def __call__(self, value: Any, name: str | None = None) -> PCAPDumper:
        """Append one frame: its ``packet`` bytes and its timestamp."""
        data = _get(value, 'packet')
        if data is None:
            raise TypeError('frame has no packet bytes')
        data = bytes(data)
        sec, nsec = record_time(value)
        info = _get(value, 'frame_info')
        origlen = _get(info, 'orig_len') if info is not None else None
        if not isinstance(origlen, int) or origlen < 0:
            origlen = len(data)
        _core.pcap_append(self._file, self._link, self._big, self._nsec, sec, nsec,
                          origlen, data)
        self._fnum += 1
        return self

    def _dump_header(self, **kwargs: Any) -> None:
        _core.pcap_create(self._file, self._link, self._big, self._nsec)

    def _append_value(self, value: Any, file: Any, name: str) -> None:
        self(value, name)


class NullDumper(_DumperBase):  # type: ignore[misc]
    """Dumper of an unsupported format: writes nothing."""

    def __new__(cls, fname: str, **kwargs: Any) -> NullDumper:  # noqa: D102
        return object.__new__(cls)

    def __init__(self, fname: str, **kwargs: Any) -> None:
        self._file = fname

    @property
    def kind(self) -> str:
        """File format of this dumper."""
        return 'null'

    def __call__(self, value: Any, name: str | None = None) -> NullDumper:
        return self

    def _dump_header(self, **kwargs: Any) -> None:
        pass

    def _append_value(self, value: Any, file: Any, name: str) -> None:
        pass


_MD = _compat.ModuleDescriptor

OUTPUT: collections.defaultdict[str, tuple[Any, str | None]]
if _compat.HAVE_PCAPKIT:
    from pcapkit.foundation.traceflow.traceflow import TraceFlowBase as _PKBase

    #: The format registry: pcapkit's own, shared with pcapkit's tracers.
    OUTPUT = _PKBase.__output__
else:
    OUTPUT = collections.defaultdict(
        lambda: (NullDumper, None),
        {
            'pcap': (PCAPDumper, '.pcap'),
            'cap': (PCAPDumper, '.pcap'),
            'plist': (_MD('dictdumper', 'PLIST'), '.plist'),
            'xml': (_MD('dictdumper', 'PLIST'), '.plist'),
            'json': (_MD('dictdumper', 'JSON'), '.json'),
            'tree': (_MD('dictdumper', 'Tree'), '.txt'),
            'text': (_MD('dictdumper', 'Tree'), '.txt'),
            'txt': (_MD('dictdumper', 'Tree'), '.txt'),
        },
    )


def _is_pcapkit_dumper(dumper: Any, name: str, module: str) -> bool:
    """Whether a registry entry is pcapkit's dumper class `name` (defined in
    `module`), as a module descriptor or as the class itself."""
    if isinstance(dumper, tuple) and len(dumper) == 2:
        return tuple(dumper) == ('pcapkit.dumpkit', name)
    return (getattr(dumper, '__module__', None), getattr(dumper, '__qualname__', None)) == \
        (module, name)


def resolve_dumper(dumper: Any) -> tuple[type, bool]:
    """The class behind a registry entry, and whether it is one of ours (used
    as is, not wrapped by ``make_dumper``).

    pcapkit's ``PCAPIO`` is replaced by :class:`PCAPDumper` and its
    ``NotImplementedIO`` by :class:`NullDumper` (both write nothing; ours is
    cheaper to create, once per flow); a registry entry
    for dictdumper's non-existent ``Text`` class (pcapkit's ``'text'``
    format) resolves to ``Tree``, which pcapkit uses for ``'txt'``.
    """
    if _is_pcapkit_dumper(dumper, 'PCAPIO', 'pcapkit.dumpkit.pcap') or dumper is PCAPDumper:
        return PCAPDumper, True
    if _is_pcapkit_dumper(dumper, 'NotImplementedIO', 'pcapkit.dumpkit.null') \
            or dumper is NullDumper:
        return NullDumper, True
    if isinstance(dumper, _compat.ModuleDescriptor):
        if tuple(dumper) == ('dictdumper', 'Text'):
            import dictdumper
            dumper = getattr(dictdumper, 'Text', None) or dictdumper.Tree
        else:
            try:
                dumper = dumper.klass
            except ImportError as error:
                raise ImportError(f'output format needs the {dumper[0]} package, which is not '
                                  f'installed (pip install {dumper[0]})') from error
    return dumper, False
