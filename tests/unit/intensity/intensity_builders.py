"""Builders for intensity unit tests (a uniquely named module: test folders share sys.path)."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from epd.v1 import telemetry_pb2

_seq = itertools.count()
KIND = {
    "electricity": telemetry_pb2.ACTIVITY_KIND_ELECTRICITY,
    "fuel": telemetry_pb2.ACTIVITY_KIND_FUEL,
    "steam": telemetry_pb2.ACTIVITY_KIND_STEAM,
    "reagent": telemetry_pb2.ACTIVITY_KIND_REAGENT,
    "gas": telemetry_pb2.ACTIVITY_KIND_DIRECT_EMISSION,
    "output": telemetry_pb2.ACTIVITY_KIND_PRODUCT_OUTPUT,
}
UNIT = {"electricity": "kWh", "fuel": "GJ", "steam": "GJ", "reagent": "kg", "gas": "kg", "output": "kg"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def reading(
    process_id: str, activity: str, quantity: str, when: str, *, reading_id: str | None = None, **overrides: object
) -> telemetry_pb2.Reading:
    head = activity.split(".")[0]
    rid = reading_id or f"r{next(_seq)}"
    ts = Timestamp()
    ts.FromDatetime(at(when))
    msg = telemetry_pb2.Reading(
        reading_id=rid,
        plant_id=process_id.split("/")[0],
        process_id=process_id,
        meter_id=f"m-{activity}",
        activity_kind=KIND.get(head, telemetry_pb2.ACTIVITY_KIND_UNSPECIFIED),
        activity=activity,
        observed_at=ts,
        quantity=quantity,
        unit=UNIT.get(head, "kg"),
        quality=telemetry_pb2.READING_QUALITY_GOOD,
        reading_hash=hashlib.sha256(rid.encode()).hexdigest(),
    )
    for name, value in overrides.items():
        setattr(msg, name, value)
    return msg


PROCESSES_YAML = """
processes:
  - {process_id: east-1/line, plant_id: east-1, grid_region: east, products: [widget]}
  - {process_id: sw-1/line, plant_id: sw-1, grid_region: southwest, products: [widget]}
  - {process_id: bt-1/electrolysis, plant_id: bt-1, grid_region: north, province: inner-mongolia,
     products: [nd-metal], emission_model: {activity: model.electrolysis.nd-metal, product: nd-metal}}
  - {process_id: bt-1/sx-mass, plant_id: bt-1, grid_region: north, products: [ndpr-oxide, la-ce-oxide],
     allocation: {basis: mass}}
  - process_id: bt-1/sx-econ
    plant_id: bt-1
    grid_region: north
    products: [ndpr-oxide, la-ce-oxide]
    allocation: {basis: economic, prices: {ndpr-oxide: "450", la-ce-oxide: "5"},
                 price_basis: "test prices CNY/kg", price_period: "2023-Q2"}
"""
