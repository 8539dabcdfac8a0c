"""Every setting a service reads is listed in .env.example (DESIGN.md section 7, rule 4)."""

from __future__ import annotations

import re

from tests.conftest import REPO

ALIAS = re.compile(r'validation_alias="(EPD_[A-Z0-9_]+)"')
# Shared fields of epd_common.settings.ServiceSettings (prefix EPD_ + field name).
SHARED = {
    "EPD_KAFKA_BOOTSTRAP",
    "EPD_PG_DSN",
    "EPD_LOG_LEVEL",
    "EPD_LOG_JSON",
    "EPD_TOPIC_PREFIX",
    "EPD_ENVIRONMENT",
    "EPD_KAFKA_REPLICATION_FACTOR",
    "EPD_KAFKA_MIN_INSYNC_REPLICAS",
    "EPD_KAFKA_SECURITY_PROTOCOL",
    "EPD_KAFKA_USERNAME",
    "EPD_KAFKA_PASSWORD",
    "EPD_KAFKA_CA_FILE",
}


def declared() -> set[str]:
    names = set()
    for line in (REPO / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            names.add(line.split("=", 1)[0].strip())
    return names


def test_every_service_setting_is_in_env_example():
    read = set(SHARED)
    for path in (REPO / "services").rglob("*.py"):
        read |= set(ALIAS.findall(path.read_text()))
    missing = sorted(read - declared())
    assert not missing, f"settings read by services but missing from .env.example: {missing}"


def test_no_variable_is_declared_twice():
    names = [
        line.split("=", 1)[0]
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    ]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
