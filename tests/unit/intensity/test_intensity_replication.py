"""The faust app creates its changelog and corrections topics with the environment's replication
(EPD_ENVIRONMENT, EPD_KAFKA_REPLICATION_FACTOR, EPD_KAFKA_MIN_INSYNC_REPLICAS). No broker: the app
is built, never started."""

from __future__ import annotations

import faust
import pytest
from prometheus_client import CollectorRegistry

from epd_intensity.app.app import CORRECTIONS_TOPIC, STATE_TABLE, create_app
from epd_intensity.app.metrics import IntensityMetrics
from epd_intensity.settings import IntensitySettings


@pytest.mark.parametrize(("environment", "factor", "min_insync"), [("production", 3, "2"), ("local", 1, "1")])
def test_changelog_and_corrections_topics_follow_the_environment(
    monkeypatch, tmp_path, processes, library, environment, factor, min_insync
):
    declared = {}  # every topic the app declares, by name (the corrections topic has no subscriber)
    make_topic = faust.App.topic

    def topic(app, *names, **kwargs):
        created = make_topic(app, *names, **kwargs)
        declared.update(dict.fromkeys(names, created))
        return created

    monkeypatch.setattr(faust.App, "topic", topic)
    settings = IntensitySettings(
        environment=environment, data_dir=tmp_path, topic_prefix="t.", kafka_username="w", kafka_password="p" * 16
    )
    app = create_app(settings, processes, library, IntensityMetrics(CollectorRegistry()))
    assert app.conf.topic_replication_factor == factor  # faust's default for every topic it declares
    changelog = app.tables[STATE_TABLE].changelog_topic
    corrections = declared["t." + CORRECTIONS_TOPIC]
    for topic in (changelog, corrections):
        assert (topic.replicas or app.conf.topic_replication_factor) == factor
        assert topic.config["min.insync.replicas"] == min_insync
