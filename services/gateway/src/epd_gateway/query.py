"""PACT v3 ListFootprints filters: parsed from query parameters or RequestCreated criteria. Pure.

PACT v3.0.3, ListFootprints "Filtering": values of one criterion are OR'd, different criteria
AND'd, matching is case-insensitive (parameter names too: the spec's own example writes
`productid` and `validon`). A filter value that cannot match anything (a status other than Active
or Deprecated, a companyId that is not a URN, ...) is not an error: it matches nothing, so
`?status=Bogus` answers `200 {"data": []}` and `?companyId=<urn>&companyId=abc` answers the
records of `<urn>`. Malformed dates and over-long or over-many values are errors (400): they are
not values of the criterion at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from epd_gateway.errors import GatewayError
from epd_records.errors import MappingError
from epd_records.party import check_urn
from epd_records.status import PactStatus

LIST_FILTERS = ("productId", "companyId", "geography", "classification")
TIME_FILTERS = ("validOn", "validAfter", "validBefore")
FILTER_NAMES = (*LIST_FILTERS, *TIME_FILTERS, "status")
_BY_LOWER = {name.lower(): name for name in FILTER_NAMES}
MAX_VALUES = 100
MAX_VALUE_CHARS = 512
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FilterError(GatewayError):
    """A request whose filters are malformed (not merely matching nothing); maps to 400."""


@dataclass(frozen=True)
class Filters:
    """Lower-cased values that can match; `None` means the criterion was not given, `()` that it
    was given with values none of which can match (the whole filter then matches nothing)."""

    product_ids: tuple[str, ...] | None = None
    company_ids: tuple[str, ...] | None = None
    geographies: tuple[str, ...] | None = None
    classifications: tuple[str, ...] | None = None
    valid_on: datetime | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None
    statuses: tuple[PactStatus, ...] | None = None

    @property
    def matches_nothing(self) -> bool:
        lists = (self.product_ids, self.company_ids, self.geographies, self.classifications, self.statuses)
        return any(values == () for values in lists)

    def key(self) -> dict[str, Any]:
        """A JSON-ready form that names the filter (pagination cursors are bound to it)."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}

    def product_id_candidates(self, prefix: str) -> tuple[str, ...]:
        """Product ids (lower-cased) whose PACT productId URN is one of the filter values."""
        out = set(self.product_ids or ())
        for urn in self.product_ids or ():
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


def _checked(name: str, values: list[str]) -> list[str]:
    if len(values) > MAX_VALUES:
        raise FilterError(f"at most {MAX_VALUES} values of {name}")
    for raw in values:
        if not isinstance(raw, str) or len(raw) > MAX_VALUE_CHARS:
            raise FilterError(f"{name} values must be strings of at most {MAX_VALUE_CHARS} characters")
    return values


def _can_match(name: str, raw: str) -> bool:
    """Whether a value could name anything: never with control characters (NUL never reaches the
    database), and URN criteria only with URNs."""
    value = raw.strip()
    if not value or _CONTROL.search(value):
        return False
    if name == "geography":
        return True
    try:
        check_urn(value, name)
    except MappingError:
        return False
    return True


def _values(name: str, values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip().lower() for v in _checked(name, values) if _can_match(name, v)))


def _statuses(values: list[str]) -> tuple[PactStatus, ...]:
    wanted = {v.strip().lower() for v in _checked("status", values)}
    return tuple(s for s in PactStatus if s.value.lower() in wanted)


def normalise(params: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Query items -> filter name (as the spec spells it) -> values; other parameters are dropped."""
    out: dict[str, list[str]] = {}
    for key, value in params:
        name = _BY_LOWER.get(key.lower())
        if name is not None:
            out.setdefault(name, []).append(value)
    return out


def parse_filters(params: dict[str, list[str]]) -> Filters:
    """`params`: filter name -> values, as from `normalise` or RequestCreated `data`."""
    kwargs: dict[str, Any] = {}
    names = {
        "productId": "product_ids",
        "companyId": "company_ids",
        "geography": "geographies",
        "classification": "classifications",
    }
    for name, attr in names.items():
        if name in params:
            kwargs[attr] = _values(name, params[name])
    for name, attr in (("validOn", "valid_on"), ("validAfter", "valid_after"), ("validBefore", "valid_before")):
        values = params.get(name) or []
        if len(values) > 1:
            raise FilterError(f"{name} may be given once")
        if values:
            kwargs[attr] = parse_time(values[0], name)
    if "status" in params:
        kwargs["statuses"] = _statuses(params["status"])
    return Filters(**kwargs)


def from_criteria(criteria: dict[str, Any]) -> Filters:
    """RequestCreated `data` (already checked by epd_records.events.parse_event) -> Filters."""
    params = {k: (v if isinstance(v, list) else [v]) for k, v in criteria.items() if k != "comment"}
    return parse_filters(params)
