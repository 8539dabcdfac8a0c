import pytest
from pydantic import Field, ValidationError

from epd_common.settings import ServiceSettings


class ExampleSettings(ServiceSettings):
    metrics_port: int = Field(default=9199, ge=0, le=65535, validation_alias="EPD_EXAMPLE_METRICS_PORT")


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("EPD_KAFKA_BOOTSTRAP", "k:1")
    monkeypatch.setenv("EPD_EXAMPLE_METRICS_PORT", "9100")
    s = ExampleSettings()
    assert s.kafka_bootstrap == "k:1" and s.metrics_port == 9100


def test_service_defaults_apply_when_unset(monkeypatch):
    monkeypatch.delenv("EPD_EXAMPLE_METRICS_PORT", raising=False)
    assert ExampleSettings().metrics_port == 9199


@pytest.mark.parametrize("bad", ["-1", "70000", "abc"])
def test_out_of_range_port_fails_at_start_up(monkeypatch, bad):
    monkeypatch.setenv("EPD_EXAMPLE_METRICS_PORT", bad)
    with pytest.raises(ValidationError) as err:
        ExampleSettings()
    assert "EPD_EXAMPLE_METRICS_PORT" in str(err.value)


def test_programme_settings_keep_the_shared_variables(monkeypatch):
    """Services with programme settings still read EPD_PG_DSN and friends (the EPD_ prefix)."""
    from epd_common.settings import ProgrammeSettings

    monkeypatch.setenv("EPD_PG_DSN", "postgresql://x@127.0.0.1:1/programme")
    monkeypatch.setenv("EPD_RECORDS_KEY_SECRET", "a-secret-of-sixteen+")
    monkeypatch.setenv("EPD_PROGRAMME_OPERATOR", "Programme X")
    settings = ProgrammeSettings()
    assert settings.pg_dsn.endswith("/programme") and settings.programme_operator == "Programme X"


def test_kafka_connection_is_sasl_ssl_with_the_services_principal(monkeypatch):
    monkeypatch.setenv("EPD_KAFKA_USERNAME", "epd-ingest")
    monkeypatch.setenv("EPD_KAFKA_PASSWORD", "a-long-random-password")
    monkeypatch.setenv("EPD_KAFKA_CA_FILE", "/etc/epd/kafka-ca.pem")
    kafka = ExampleSettings(environment="production").kafka
    assert (kafka.security_protocol, kafka.username) == ("SASL_SSL", "epd-ingest")
    assert kafka.ca_file == "/etc/epd/kafka-ca.pem"
    assert "a-long-random-password" not in repr(kafka)  # logged settings never carry it


def test_kafka_without_a_principal_names_the_variables(monkeypatch):
    from epd_common.kafka import KafkaNotConfigured

    for name in ("EPD_KAFKA_USERNAME", "EPD_KAFKA_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(KafkaNotConfigured, match="EPD_KAFKA_USERNAME and EPD_KAFKA_PASSWORD"):
        _ = ExampleSettings().kafka


def test_plaintext_kafka_is_refused_outside_local(monkeypatch):
    monkeypatch.setenv("EPD_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    with pytest.raises(ValidationError, match="EPD_KAFKA_SECURITY_PROTOCOL=PLAINTEXT is refused"):
        ExampleSettings(environment="production")
    assert ExampleSettings(environment="local").kafka.security_protocol == "PLAINTEXT"


def test_the_shipped_kafka_password_is_refused_in_production(monkeypatch):
    monkeypatch.setenv("EPD_KAFKA_USERNAME", "epd-ingest")
    monkeypatch.setenv("EPD_KAFKA_PASSWORD", "change-me-kafka-ingest")
    with pytest.raises(ValidationError, match="EPD_KAFKA_PASSWORD"):
        ExampleSettings(environment="production")
