"""Typed field readers of the product-system format (loader.py): each refuses what it cannot read with a
ProductSystemError naming the field (`where`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, Protocol, TypeVar

from .errors import ProductSystemError, Reason
from .model import Origin

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:+#-]{0,127}$")
_GAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


def mapping(
    data: Any, where: str, required: set[str] | None = None, optional: set[str] | None = None
) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ProductSystemError(Reason.MALFORMED, f"expected a mapping, got {type(data).__name__}", where)
    if required is not None:
        missing = sorted(required - data.keys())
        if missing:
            raise ProductSystemError(Reason.MALFORMED, f"missing field(s): {', '.join(missing)}", where)
        unknown = sorted(str(k) for k in data.keys() - required - (optional or set()))
        if unknown:
            raise ProductSystemError(Reason.MALFORMED, f"unknown field(s): {', '.join(unknown)[:200]}", where)
    return data


def list_of(data: Any, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise ProductSystemError(Reason.MALFORMED, f"expected a list, got {type(data).__name__}", where)
    return data


def text(value: Any, where: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()) or len(value) > 2000:
        raise ProductSystemError(Reason.MALFORMED, "expected a non-empty string (<= 2000 chars)", where)
    if any(ord(c) < 32 and c not in "\t\n" for c in value):
        raise ProductSystemError(Reason.MALFORMED, "control character in text", where)
    return value


def ident(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ProductSystemError(Reason.MALFORMED, f"invalid id {str(value)[:80]!r} (letters, digits, ._/:+#-)", where)
    return value


def gas(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _GAS.match(value):
        raise ProductSystemError(Reason.MALFORMED, f"invalid gas name {str(value)[:40]!r}", where)
    return value


def gas_key(key: Any, where: str, explicit: bool = False) -> tuple[str, Origin | None]:
    """`CO2` (fossil; with `explicit`, None: every origin) or `CO2/biogenic`, `CO2/luluc`, `CH4/fossil`."""
    raw = key if isinstance(key, str) else ""
    name, _, origin = raw.partition("/")
    if not origin and explicit:
        return gas(name, where), None
    return gas(name, where), enum(Origin, origin or "fossil", f"{where}.{key}")


class _Declared(Protocol):
    @property
    def id(self) -> str: ...


E = TypeVar("E", bound=Enum)
D = TypeVar("D", bound=_Declared)


def enum(kind: type[E], value: Any, where: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ProductSystemError(Reason.MALFORMED, f"{str(value)[:40]!r} is not one of: {allowed}", where) from None


def unique(items: Iterable[D], what: str) -> dict[str, D]:
    out: dict[str, D] = {}
    for item in items:
        if item.id in out:
            raise ProductSystemError(Reason.DUPLICATE_ID, f"{item.id!r} declared twice", f"$.{what}")
        out[item.id] = item
    return out
