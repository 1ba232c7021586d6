"""Result records used when pcapkit is not installed.

With pcapkit installed the tracer returns pcapkit's own
``pcapkit.foundation.traceflow.data.tcp.Index``; these classes have the same
fields, mapping access, equality and repr, so code written for either works.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ['Index', 'Buffer']


class _Record(Mapping[str, Any]):
    """An immutable record that is also a read-only mapping of its fields."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, **fields: Any) -> None:
        missing = [name for name in self.__slots__ if name not in fields]
        extra = [name for name in fields if name not in self.__slots__]
        if missing or extra:
            raise TypeError(f'{type(self).__name__}() needs exactly the fields '
                            f'{", ".join(self.__slots__)}')
        for name in self.__slots__:
            object.__setattr__(self, name, fields[name])

    def __getitem__(self, name: str) -> Any:
        if name not in self.__slots__:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.__slots__)

    def __len__(self) -> int:
        return len(self.__slots__)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("can't set attribute")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("can't delete attribute")

    def __repr__(self) -> str:
        args = ', '.join(f'{name}={getattr(self, name)!r}' for name in self.__slots__)
        return f'<{type(self).__name__} {args}>'

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), dict(self)))

    def to_dict(self) -> dict[str, Any]:
        """The fields as a new :class:`dict`."""
        return dict(self)


def _rebuild(cls: type[_Record], fields: dict[str, Any]) -> _Record:
    return cls(**fields)


class Index(_Record):
    """One traced flow: output file name (or None), frame numbers, label."""

    __slots__ = ('fpout', 'index', 'label')

    fpout: str | None
    index: tuple[int, ...]
    label: str

    def __init__(self, *, fpout: str | None, index: tuple[int, ...], label: str) -> None:
        super().__init__(fpout=fpout, index=index, label=label)

    def _repr_html_(self) -> str:
        from pcapkit_tcpflow.analysis import index_html
        return index_html(self)


class Buffer(_Record):
    """An open flow: its dumper, frame numbers so far and label."""

    __slots__ = ('fpout', 'index', 'label')

    fpout: Any
    index: list[int]
    label: str

    def __init__(self, *, fpout: Any, index: list[int], label: str) -> None:
        super().__init__(fpout=fpout, index=index, label=label)
