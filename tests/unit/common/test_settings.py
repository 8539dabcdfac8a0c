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
