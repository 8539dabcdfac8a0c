"""`epd connector replay` through typer's CliRunner: refused input is a clear error, not a traceback."""

from pathlib import Path

from typer.testing import CliRunner

from epd_connector.cli import app
from epd_connector.signing import generate_private_key, private_key_to_pem

runner = CliRunner()


def _replay(tmp_path: Path, plant_yaml: str):
    plant = tmp_path / "plant.yaml"
    plant.write_text(plant_yaml, "utf-8")
    key = tmp_path / "plant.pem"
    key.write_bytes(private_key_to_pem(generate_private_key()))
    csv_file = tmp_path / "readings.csv"
    csv_file.write_text("timestamp,x\n", "utf-8")
    args = ["replay", str(csv_file), "--plant", str(plant), "--key-file", str(key), "--spool-dir", str(tmp_path)]
    return runner.invoke(app, args, env={"EPD_KAFKA_BOOTSTRAP": "127.0.0.1:1"})


def test_replay_with_an_unusable_plant_config_fails_cleanly(tmp_path):
    # A ConfigError (the connector's own error, no longer a ValueError) is reported, exit code 2.
    result = _replay(tmp_path, "plant_id: [not, an, id]\n")
    assert result.exit_code == 2, result.output
    assert "replay failed" in result.output and "invalid plant configuration" in result.output
