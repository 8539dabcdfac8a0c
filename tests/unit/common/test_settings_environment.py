"""EPD_ENVIRONMENT: production (the default) refuses the secrets this repository ships and replicates
topics for a cluster; local accepts them and creates single-replica topics (epd_common.settings)."""

from __future__ import annotations

import os

import pytest
import yaml
from pydantic import ValidationError

from epd_common.settings import ServiceSettings
from epd_common.topics import Replication
from epd_footprint.settings import FootprintSettings
from epd_gateway.settings import GatewaySettings
from epd_ingest.settings import IngestSettings
from epd_publisher.settings import PublisherSettings
from tests.conftest import REPO

SERVICE_SETTINGS = [IngestSettings, FootprintSettings, PublisherSettings, GatewaySettings]
REAL = "a-real-secret-" + "x" * 24  # what an operator would set: not one of the shipped values


def shipped_env() -> dict[str, str]:
    """.env.example's values: the development secrets a deployment must not keep."""
    out = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            out[name] = value
    return out


def local_overlay_secrets() -> dict[str, str]:
    """Every literal the local k8s overlay generates Secrets from."""
    kustomization = yaml.safe_load((REPO / "k8s/overlays/local/kustomization.yaml").read_text())
    out = {}
    for generator in kustomization.get("secretGenerator", []):
        for literal in generator.get("literals", []):
            name, _, value = literal.partition("=")
            out[name] = value
    return out


@pytest.fixture
def environment(monkeypatch):
    """Set the process environment to exactly these EPD_ variables."""

    def set_env(values: dict[str, str]) -> None:
        for name in [n for n in os.environ if n.startswith("EPD_")]:
            monkeypatch.delenv(name)
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def test_production_is_the_default_and_replicates_for_a_cluster(environment):
    environment({})
    settings = ServiceSettings()
    assert settings.environment == "production"
    assert settings.topic_replication == Replication(factor=3, min_insync=2)


def test_local_creates_single_replica_topics(environment):
    environment({"EPD_ENVIRONMENT": "local"})
    assert ServiceSettings().topic_replication == Replication(factor=1, min_insync=1)


@pytest.mark.parametrize(
    ("factor", "min_insync", "expected"),
    [
        ("5", "", Replication(5, 4)),
        ("2", "", Replication(2, 1)),
        ("3", "3", Replication(3, 3)),
        ("", "1", Replication(3, 1)),
    ],
)
def test_replication_can_be_set_explicitly(environment, factor, min_insync, expected):
    environment({"EPD_KAFKA_REPLICATION_FACTOR": factor, "EPD_KAFKA_MIN_INSYNC_REPLICAS": min_insync})
    assert ServiceSettings().topic_replication == expected


def test_min_insync_above_the_factor_fails_at_start_up(environment):
    environment({"EPD_ENVIRONMENT": "local", "EPD_KAFKA_MIN_INSYNC_REPLICAS": "2"})
    with pytest.raises(ValidationError, match="EPD_KAFKA_MIN_INSYNC_REPLICAS"):
        ServiceSettings()


def test_an_unknown_environment_fails_at_start_up(environment):
    environment({"EPD_ENVIRONMENT": "dev"})
    with pytest.raises(ValidationError, match="environment"):
        ServiceSettings()


@pytest.mark.parametrize("settings_class", SERVICE_SETTINGS, ids=lambda c: c.__name__)
def test_the_shipped_env_example_starts_only_where_the_environment_says_local(environment, settings_class):
    shipped = shipped_env()
    assert shipped["EPD_ENVIRONMENT"] == "local"
    environment(shipped)
    settings_class()  # the demo and the tests run on these
    environment({**shipped, "EPD_ENVIRONMENT": "production"})
    with pytest.raises(ValidationError, match="development value shipped with the repository is refused"):
        settings_class()


@pytest.mark.parametrize(
    ("settings_class", "variable"),
    [
        (FootprintSettings, "EPD_FOOTPRINT_ADMIN_TOKEN"),
        (PublisherSettings, "EPD_PUBLISHER_SECRET_KEY"),
        (PublisherSettings, "EPD_RECORDS_KEY_SECRET"),
        (GatewaySettings, "EPD_RECORDS_KEY_SECRET"),
    ],
)
def test_each_shipped_secret_is_refused_by_name_without_echoing_it(environment, settings_class, variable):
    shipped = shipped_env()[variable]
    real = {
        "EPD_FOOTPRINT_ADMIN_TOKEN": REAL,
        "EPD_PUBLISHER_SECRET_KEY": REAL,
        "EPD_RECORDS_KEY_SECRET": REAL,
        "EPD_PG_DSN": "postgresql://epd:s3cret-from-the-vault@db:5432/epd",
    }
    environment(real)
    settings_class()  # real secrets: starts
    environment({**real, variable: shipped})
    with pytest.raises(ValidationError) as err:
        settings_class()
    assert variable in str(err.value)
    assert shipped not in str(err.value) and REAL not in str(err.value)


@pytest.mark.parametrize("settings_class", SERVICE_SETTINGS, ids=lambda c: c.__name__)
def test_the_local_overlay_secrets_are_refused_in_production(environment, settings_class):
    generated = local_overlay_secrets()
    assert generated, "k8s/overlays/local generates no secrets?"
    environment({**generated, "EPD_ENVIRONMENT": "production"})
    with pytest.raises(ValidationError, match="refused"):
        settings_class()


def test_the_local_postgres_password_is_refused_in_production_when_given(environment):
    environment({"EPD_PG_DSN": "postgresql://epd:epd@db.internal:5432/epd"})
    with pytest.raises(ValidationError, match=r"EPD_PG_DSN \(password\)"):
        ServiceSettings()
    # A service that never connects to PostgreSQL (the connector) is not refused for the default DSN.
    environment({})
    ServiceSettings()


def test_a_settings_error_never_shows_the_value(environment):
    """A secret that fails a constraint (too short) is named, not printed."""
    environment({"EPD_ENVIRONMENT": "local", "EPD_RECORDS_KEY_SECRET": "short-secret"})
    with pytest.raises(ValidationError) as err:
        GatewaySettings()
    assert "EPD_RECORDS_KEY_SECRET" in str(err.value) and "short-secret" not in str(err.value)


def test_no_service_shadows_the_shared_empty_value_validator():
    """A service's own validator named like the base class's replaced it: EPD_KAFKA_REPLICATION_FACTOR=
    (as .env.example lists it) then failed every connector at start-up."""
    from epd_connector.settings import ConnectorSettings

    for cls in [*SERVICE_SETTINGS, ConnectorSettings]:
        shared = cls.__pydantic_decorators__.field_validators["_empty_is_unset"].info.fields
        assert {"kafka_replication_factor", "kafka_min_insync_replicas"} <= set(shared), cls.__name__
