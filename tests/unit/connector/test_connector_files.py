"""The CSV replay's resume state: an unusable state file restarts the replay, it never crashes it."""

import json

import pytest

from epd_connector.sources.files import _read_state, _write_state


def test_state_round_trip(tmp_path):
    csv_path, state = tmp_path / "r.csv", tmp_path / "r.csv.state.json"
    assert _read_state(state, csv_path) == 0  # no state yet
    _write_state(state, csv_path, 120)
    assert _read_state(state, csv_path) == 120
    assert _read_state(state, tmp_path / "other.csv") == 0  # state of another file


@pytest.mark.parametrize("content", ["not json", "[]", "3", '{"rows_done": "many"}', '{"rows_done": true}'])
def test_unusable_state_starts_from_the_top(tmp_path, content):
    csv_path, state = tmp_path / "r.csv", tmp_path / "r.csv.state.json"
    state.write_text(content, "utf-8")
    assert _read_state(state, csv_path) == 0


def test_state_with_a_negative_count_starts_from_the_top(tmp_path):
    csv_path, state = tmp_path / "r.csv", tmp_path / "r.csv.state.json"
    state.write_text(json.dumps({"file": str(csv_path.resolve()), "rows_done": -4}), "utf-8")
    assert _read_state(state, csv_path) == 0
