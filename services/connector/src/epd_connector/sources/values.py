"""Edge checks shared by sources: values as decimal strings, timestamps as aware datetimes.

Non-finite values (NaN, Infinity) are passed on, not refused here: ingest rejects them with the
NOT_FINITE reason on the rejected topic, so the plant's bad data stays visible and auditable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from epd_common.reading_values import out_of_range
from epd_connector.errors import ConnectorError


class EdgeError(ConnectorError):
    """Input a source refuses: the message is safe to return to the sender."""


def decimal_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise EdgeError(f"value {value!r} is not a number")
    if isinstance(value, float):
        value = repr(value)  # shortest round-trip text of the float the source gave us
    text = str(value).strip()
    if len(text) > 64:
        raise EdgeError(f"value {text[:40]!r}... is longer than 64 characters")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise EdgeError(f"value {text[:40]!r} is not a decimal number") from exc
    if number.is_finite() and (problem := out_of_range(number)) is not None:
        raise EdgeError(f"value {text[:40]!r} is out of range: {problem}")
    return str(number)


def timestamp(value: Any) -> datetime:
    """ISO 8601 text (with offset or Z) or epoch seconds."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise EdgeError(f"timestamp {value!r} is out of range") from exc
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise EdgeError(f"timestamp {value[:40]!r} is not ISO 8601") from exc
        if dt.tzinfo is None:
            raise EdgeError(f"timestamp {value[:40]!r} lacks a UTC offset")
        return dt
    raise EdgeError(f"timestamp {str(value)[:40]!r} is neither ISO 8601 text nor epoch seconds")


def json_path(doc: Any, path: str) -> Any:
    """Follow `$.a.b[0]` (the config's validated path syntax) into a parsed JSON document."""
    cur = doc
    i = 1
    while i < len(path):
        if path[i] == ".":
            j = i + 1
            while j < len(path) and path[j] not in ".[":
                j += 1
            if not isinstance(cur, dict) or path[i + 1 : j] not in cur:
                raise EdgeError(f"payload has no {path[:j]}")
            cur, i = cur[path[i + 1 : j]], j
        else:  # "[n]"
            j = path.index("]", i)
            n = int(path[i + 1 : j])
            if not isinstance(cur, list) or n >= len(cur):
                raise EdgeError(f"payload has no {path[: j + 1]}")
            cur, i = cur[n], j + 1
    return cur
