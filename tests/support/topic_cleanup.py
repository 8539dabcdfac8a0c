"""The topic prefixes a test session handed out; the `stack` fixture deletes their topics when the
session ends (epd_devstack.kafka.delete_topics_with_prefixes says why)."""

from __future__ import annotations

SESSION_PREFIXES: set[str] = set()


def remember(prefix: str) -> str:
    SESSION_PREFIXES.add(prefix)
    return prefix
