"""Typed settings from the environment only (pydantic-settings), one class per service.

Services subclass `ServiceSettings`. Shared variables carry the `EPD_` prefix; a service's own
variables carry its name (`EPD_CONNECTOR_HTTP_PORT`) through `validation_alias`, so several
services can run on one host. Every variable is listed in .env.example; missing required values
fail at start-up with pydantic's error naming the variable (never its value: settings carry secrets).

EPD_ENVIRONMENT says where a service runs. Anything but `local` (the default is `production`) refuses
the secrets this repository ships (.env.example, the local k8s overlay, compose) and creates Kafka
topics replicated for a cluster (3 replicas, min.insync.replicas 2); `local` accepts them and
creates single-replica topics for the one-broker local stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from epd_common.topics import Replication

if TYPE_CHECKING:  # aiokafka loads only in what connects (the CLI imports settings for every command)
    from epd_common.kafka import KafkaConnection

# Topic replication by environment, unless EPD_KAFKA_REPLICATION_FACTOR / _MIN_INSYNC_REPLICAS say otherwise.
REPLICATION_FACTOR = {"local": 1, "production": 3}

# The placeholders shipped in .env.example, k8s/overlays/local and docker-compose.yml: every secret
# there starts with this, and the local PostgreSQL password is "epd". Refused outside EPD_ENVIRONMENT=local.
SHIPPED_SECRET_PREFIX = "change-me"
SHIPPED_PG_PASSWORDS = frozenset({"epd"})


def shipped_secret(value: str) -> bool:
    return value.strip().lower().startswith(SHIPPED_SECRET_PREFIX)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EPD_", extra="ignore", frozen=True, populate_by_name=True, hide_input_in_errors=True
    )

    environment: Literal["local", "production"] = Field(
        default="production", description="local: the shipped development secrets and one-broker topics are accepted"
    )

    kafka_bootstrap: str = Field(default="127.0.0.1:19092", description="Kafka bootstrap servers")
    # Every service is its own Kafka principal (SCRAM-SHA-512 over TLS; epd_common.kafka_access lists what
    # each may do). PLAINTEXT only with EPD_ENVIRONMENT=local, for a broker without security.
    kafka_security_protocol: Literal["SASL_SSL", "PLAINTEXT"] = Field(default="SASL_SSL")
    kafka_username: str = Field(default="", max_length=200)
    kafka_password: str = Field(default="", max_length=500, repr=False)
    # The CA that signed the brokers' certificates (PEM); empty: the system trust store.
    kafka_ca_file: str = Field(default="")
    pg_dsn: str = Field(default="postgresql://epd:epd@127.0.0.1:55432/epd", description="PostgreSQL DSN")
    log_level: str = Field(default="INFO")
    log_json: bool = Field(default=True, description="JSON log lines (false: plain text for a console)")
    # Prepended to every topic name: isolates test runs and environments sharing one cluster.
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]{0,100}$")
    # Overridden per service with an aliased variable, e.g. EPD_CONNECTOR_METRICS_PORT; 0 = off.
    metrics_port: int = Field(default=0, ge=0, le=65535, description="Prometheus /metrics port")
    # Unset: by EPD_ENVIRONMENT (REPLICATION_FACTOR); min.insync.replicas then defaults to factor - 1 (at least 1).
    kafka_replication_factor: int | None = Field(default=None, ge=1, le=16)
    kafka_min_insync_replicas: int | None = Field(default=None, ge=1, le=16)

    @field_validator("kafka_replication_factor", "kafka_min_insync_replicas", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # .env.example lists them empty

    @property
    def kafka(self) -> KafkaConnection:
        """This service's connection to the cluster (raises KafkaNotConfigured without a principal)."""
        from epd_common.kafka import KafkaConnection

        return KafkaConnection(
            self.kafka_bootstrap,
            self.kafka_security_protocol,
            self.kafka_username,
            self.kafka_password,
            self.kafka_ca_file or None,
        )

    @property
    def topic_replication(self) -> Replication:
        """The replication of every topic this service creates (epd_common.kafka.ensure_topics, faust)."""
        factor = self.kafka_replication_factor or REPLICATION_FACTOR[self.environment]
        return Replication(factor, self.kafka_min_insync_replicas or max(1, factor - 1))

    @model_validator(mode="after")
    def _production_ready(self) -> ServiceSettings:
        factor = self.kafka_replication_factor or REPLICATION_FACTOR[self.environment]
        if self.kafka_min_insync_replicas is not None and self.kafka_min_insync_replicas > factor:
            raise ValueError(
                f"EPD_KAFKA_MIN_INSYNC_REPLICAS ({self.kafka_min_insync_replicas}) exceeds the replication factor"
                f" ({factor}): no write could ever be acknowledged"
            )
        if self.environment != "local":
            if self.kafka_security_protocol == "PLAINTEXT":
                raise ValueError(
                    f"EPD_KAFKA_SECURITY_PROTOCOL=PLAINTEXT is refused (EPD_ENVIRONMENT={self.environment}):"
                    " the cluster's clients authenticate with SASL_SSL"
                )
            refused = self.shipped_secrets()
            if refused:
                raise ValueError(
                    f"{', '.join(refused)}: the development value shipped with the repository is refused"
                    f" (EPD_ENVIRONMENT={self.environment}); set real secrets, or EPD_ENVIRONMENT=local on a"
                    " development machine"
                )
        return self

    def shipped_secrets(self) -> list[str]:
        """The variables set to a secret this repository ships (placeholders anyone can read)."""
        refused = []
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, str) and shipped_secret(value):
                alias = field.validation_alias
                refused.append(alias if isinstance(alias, str) else f"EPD_{name.upper()}")
        # The DSN's password, when the DSN was given (a service that never connects keeps the default).
        if "pg_dsn" in self.model_fields_set:
            password = urlsplit(self.pg_dsn).password
            if password is not None and (password in SHIPPED_PG_PASSWORDS or shipped_secret(password)):
                refused.append("EPD_PG_DSN (password)")
        return refused


class ProgrammeSettings(ServiceSettings):
    """ServiceSettings plus what every service that renders or signs records must agree on, so that a
    record pushed to a partner equals the record it pulls: the programme, its extension schemas, its
    signing keys."""

    programme_operator: str = Field(
        default="National Rare-Earth EPD Programme",
        min_length=1,
        max_length=200,
        validation_alias="EPD_PROGRAMME_OPERATOR",
    )
    extension_base_url: str = Field(
        default="https://epd.example.cn/pact/extensions",
        pattern=r"^https://",
        max_length=500,
        validation_alias="EPD_PROGRAMME_EXTENSION_BASE_URL",
    )
    # Encrypts the record-signing private keys at rest (epd_common.signing_keys); the gateway also keys
    # its pagination cursors with it. The same value on every service that signs records; a service
    # that signs requires it at start (see `signing_secret`).
    records_key_secret: str | None = Field(
        default=None, min_length=16, validation_alias="EPD_RECORDS_KEY_SECRET", repr=False
    )

    @property
    def signing_secret(self) -> str:
        if self.records_key_secret is None:
            raise ValueError("EPD_RECORDS_KEY_SECRET is required (>= 16 characters) to sign records")
        return self.records_key_secret
