"""What pcapkit_tcpflow borrows from pcapkit when it is installed.

pcapkit is optional.  When it imports, the tracer shares pcapkit's dumper
registry, returns pcapkit's own ``Index`` objects and reports through
pcapkit's warning and exception classes, so it is interchangeable with
pcapkit's tracer.  When it does not, small equivalents defined here and in
:mod:`pcapkit_tcpflow.index` take their place.
"""
from __future__ import annotations

import collections
import importlib
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = [
    'HAVE_PCAPKIT', 'HAVE_DICTDUMPER', 'ModuleDescriptor', 'Index', 'Buffer', 'TCP_Protocol',
    'FormatWarning', 'FileWarning', 'RegistryWarning', 'FileExists', 'RegistryError',
    'warn', 'make_dumper', 'pcapkit_traceflow_bases',
]

try:
    import dictdumper.dumper as _dictdumper_dumper
except ImportError:  # pragma: no cover - exercised by the no-pcapkit subprocess test
    _dictdumper_dumper = None

HAVE_DICTDUMPER = _dictdumper_dumper is not None

try:
    from pcapkit.corekit.module import ModuleDescriptor
    from pcapkit.dumpkit.common import make_dumper
    from pcapkit.foundation.traceflow.data.tcp import Buffer, Index
    from pcapkit.foundation.traceflow.traceflow import TraceFlow as _PKTraceFlow
    from pcapkit.foundation.traceflow.traceflow import TraceFlowBase as _PKTraceFlowBase
    from pcapkit.protocols.transport.tcp import TCP as TCP_Protocol
    from pcapkit.utilities.exceptions import FileExists, RegistryError
    from pcapkit.utilities.warnings import FileWarning, FormatWarning, RegistryWarning
    from pcapkit.utilities.warnings import warn as _pcapkit_warn
except ImportError:
    HAVE_PCAPKIT = False
else:
    HAVE_PCAPKIT = True


if HAVE_PCAPKIT:
    def warn(message: str, category: type[Warning]) -> None:
        """Warn the way pcapkit does (its logger, then :func:`warnings.warn`)."""
        _pcapkit_warn(message, category)

    def pcapkit_traceflow_bases() -> tuple[type[_PKTraceFlow[Any, Any, Any, Any]],
                                           type[_PKTraceFlowBase[Any, Any, Any, Any]]]:
        """pcapkit's ``TraceFlow`` ABC and ``TraceFlowBase`` class."""
        return _PKTraceFlow, _PKTraceFlowBase

else:
    # typed as pcapkit's classes (above): these stand-ins have the same fields
    from pcapkit_tcpflow.index import Buffer, Index  # type: ignore[assignment]  # noqa: F401

    TCP_Protocol = None  # type: ignore[assignment,misc]

    class ModuleDescriptor(NamedTuple):  # type: ignore[no-redef]
        """A class named by module and attribute, imported on first use."""

        module: str
        name: str

        @property
        def klass(self) -> Any:
            """Import the class."""
            return getattr(importlib.import_module(self.module), self.name)

    class FormatWarning(ImportWarning):  # type: ignore[no-redef]
        """Unknown output format."""

    class FileWarning(RuntimeWarning):  # type: ignore[no-redef]
        """Problem with an output path."""

    class RegistryWarning(RuntimeWarning):  # type: ignore[no-redef]
        """A registry entry was overwritten."""

    class FileExists(FileExistsError):  # type: ignore[no-redef]
        """The output path exists and is not a folder."""

    class RegistryError(TypeError):  # type: ignore[no-redef]
        """A registered object has the wrong type."""

    def warn(message: str, category: type[Warning]) -> None:
        """Issue a Python warning."""
        warnings.warn(message, category, stacklevel=4)

    def make_dumper(output: type[Any]) -> type[Any]:
        """Give a dictdumper class the conversions pcapkit's make_dumper adds."""
        import datetime
        import decimal
        import enum
        import ipaddress

        if _dictdumper_dumper is None or not issubclass(output, _dictdumper_dumper.Dumper):
            return output

        class DictDumper(output):  # type: ignore[misc]
            def object_hook(self, o: Any) -> Any:
                if isinstance(o, decimal.Decimal):
                    return str(o)
                if isinstance(o, datetime.timedelta):
                    return o.total_seconds()
                if isinstance(o, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
                    return str(o)
                if isinstance(o, enum.Enum):
                    return f'{type(o).__name__}::{o.name} [{o.value}]'
                if isinstance(o, collections.abc.Mapping) and not isinstance(o, dict):
                    return dict(o)
                return super().object_hook(o)

        return DictDumper

    def pcapkit_traceflow_bases() -> tuple[type[_PKTraceFlow[Any, Any, Any, Any]],
                                           type[_PKTraceFlowBase[Any, Any, Any, Any]]]:
        raise ImportError('pcapkit is not installed (pip install pypcapkit)')


def dictdumper_base() -> type | None:
    """``dictdumper.dumper.Dumper`` when dictdumper is installed."""
    return None if _dictdumper_dumper is None else _dictdumper_dumper.Dumper


#: (fpout, frame numbers, label) -> Index
IndexFactory = Callable[[Any, Any, str], Any]

_FAST_INDEX: IndexFactory | None = None
_FAST_INDEX_TYPE: type | None = None


def index_factory() -> IndexFactory:
    """A function (fpout, index, label) -> Index.

    pcapkit's Index is an ``Info`` whose constructor costs microseconds; its
    instances are plain objects whose ``__dict__`` holds the fields and two
    empty maps.  When a record built by filling ``__dict__`` directly equals,
    attribute for attribute, one built by the constructor, the direct way is
    used; otherwise (another pcapkit) the constructor is.
    """
    global _FAST_INDEX
    if _FAST_INDEX is not None:
        return _FAST_INDEX
    index_type = Index

    def slow(fpout: Any, index: Any, label: str) -> Any:
        return index_type(fpout=fpout, index=index, label=label)

    factory = slow
    if HAVE_PCAPKIT:
        new = object.__new__

        def fast(fpout: Any, index: Any, label: str) -> Any:
            obj = new(index_type)
            obj.__dict__.update(__map__={}, __map_reverse__={}, fpout=fpout, index=index,
                                label=label)
            return obj

        try:
            a, b = slow('f', (1,), 'l'), fast('f', (1,), 'l')
            if type(a) is type(b) and vars(a) == vars(b) and a == b and repr(a) == repr(b):
                factory = fast
                global _FAST_INDEX_TYPE
                _FAST_INDEX_TYPE = index_type
        except Exception:  # noqa: BLE001 - any surprise: keep the constructor
            factory = slow
    _FAST_INDEX = factory
    return factory


def index_fast_type() -> type | None:
    """The Index class when :func:`index_factory` builds records by filling a
    bare instance's attributes (the C tracer then does the same), else None."""
    index_factory()
    return _FAST_INDEX_TYPE
