"""PACT v3 ListFootprints filters: parsed and checked from query parameters or RequestCreated criteria.

Values of one filter are OR'd, different filters AND'd (PACT v3.0.3, ListFootprints "Filtering").
Matching is case-insensitive. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from epd_gateway.formats.party import MappingError, check_urn

LIST_FILTERS = ("productId", "companyId", "geography", "classification")
TIME_FILTERS = ("validOn", "validAfter", "validBefore")
MAX_VALUES = 100
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})$")
ACTIVE = ("provisional", "verified", "published")
DEPRECATED = ("deprecated", "expired")


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class Filters:
    product_ids: tuple[str, ...] = ()  # lower-cased URNs
    company_ids: tuple[str, ...] = ()
    geographies: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()
    valid_on: datetime | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None
    statuses: tuple[str, ...] = field(default=ACTIVE + DEPRECATED)

    def key(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}

    def product_id_candidates(self, prefix: str) -> tuple[str, ...]:
        """Product ids (lower-cased) whose PACT productId URN is one of the filter values."""
        out = set(self.product_ids)
        for urn in self.product_ids:
            if urn.startswith(prefix.lower()):
                out.add(unquote(urn[len(prefix) :]).lower())
        return tuple(sorted(out))


def parse_time(value: str, name: str) -> datetime:
    if not isinstance(value, str) or not _RFC3339.match(value.strip()):
        raise FilterError(f"{name} must be an RFC 3339 date-time, e.g. 2026-01-01T00:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"{name} is not a valid date-time") from None
    if not 1 <= parsed.year <= 9999:
        raise FilterError(f"{name} is out of range")
    return parsed


def _values(name: str, values: list[str]) -> tuple[str, ...]:
    if len(values) > MAX_VALUES:
        raise FilterError(f"at most {MAX_VALUES} values of {name}")
    out = []
    for raw in values:
        if not isinstance(raw, str) or not raw.strip() or len(raw) > 512 or "\x00" in raw:
            raise FilterError(f"{name} values must be non-empty strings of at most 512 characters")
        if name != "geography":
            try:
                check_urn(raw.strip(), name)
            except MappingError as exc:
                raise FilterError(str(exc)) from None
        out.append(raw.strip().lower())
    return tuple(dict.fromkeys(out))


def parse_filters(params: dict[str, list[str]]) -> Filters:
    """`params`: parameter name -> values, as from a query string or RequestCreated `data`."""
    kwargs: dict[str, Any] = {}
    names = {
        "productId": "product_ids",
        "companyId": "company_ids",
        "geography": "geographies",
        "classification": "classifications",
    }
    for name, attr in names.items():
        if params.get(name):
            kwargs[attr] = _values(name, params[name])
    for name, attr in (("validOn", "valid_on"), ("validAfter", "valid_after"), ("validBefore", "valid_before")):
        values = params.get(name) or []
        if len(values) > 1:
            raise FilterError(f"{name} may be given once")
        if values:
            kwargs[attr] = parse_time(values[0], name)
    status = params.get("status") or []
    if len(status) > 1:
        raise FilterError("status may be given once")
    if status:
        low = status[0].strip().lower()
        if low not in ("active", "deprecated"):
            raise FilterError("status must be Active or Deprecated")
        kwargs["statuses"] = ACTIVE if low == "active" else DEPRECATED
    return Filters(**kwargs)


def from_criteria(criteria: dict[str, Any]) -> Filters:
    """RequestCreated `data` (already checked by formats.events.parse_event) -> Filters."""
    params = {k: (v if isinstance(v, list) else [v]) for k, v in criteria.items() if k != "comment"}
    return parse_filters(params)
