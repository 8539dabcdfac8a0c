"""Register a plant through the footprint admin API (PUT /plants/{plant_id}/site), the registry's one writer.

`site_request` turns the plant YAML (its `site`, `processes`, `products` and `meters`), the public key
and the operator's command-line overrides into the request body; nothing is guessed: a name, province,
grid region, organisation or process stage that neither gives is listed in one RegistrationError.
`put_site` sends it with the operator's bearer token. The admin API creates what is missing, accepts
what is registered exactly so, and refuses (409) a site that differs from what is registered.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from epd_connector.config import MeterConfig, PlantConfig, StageName
from epd_connector.errors import ConnectorError
from epd_connector.keys import key_id_for
from epd_connector.signing import public_key_to_raw

DEFAULT_ADMIN_URL = "http://127.0.0.1:8083"


class RegistrationError(ConnectorError):
    """The plant cannot be registered as described (the message lists what is missing or wrong)."""


@dataclass(frozen=True)
class SiteOverrides:
    """Command-line values that take precedence over the plant YAML."""

    organisation_id: str | None = None
    name: str | None = None
    province: str | None = None
    grid_region: str | None = None
    process_names: dict[str, str] = field(default_factory=dict)
    process_stages: dict[str, StageName] = field(default_factory=dict)
    product_names: dict[str, str] = field(default_factory=dict)


def parse_assignments(values: list[str] | None, option: str) -> dict[str, str]:
    """`ID=VALUE` command-line values -> {ID: VALUE}; a malformed or repeated ID is an error."""
    out: dict[str, str] = {}
    for text in values or []:
        key, sep, value = text.partition("=")
        if not sep or not key or not value:
            raise RegistrationError(f"{option} expects ID=VALUE, got {text!r}")
        if key in out:
            raise RegistrationError(f"{option} gives {key} twice")
        out[key] = value
    return out


def parse_stages(values: list[str] | None) -> dict[str, StageName]:
    stages = {}
    for process_id, stage in parse_assignments(values, "--process-stage").items():
        try:
            stages[process_id] = StageName(stage)
        except ValueError:
            allowed = ", ".join(s.value for s in StageName)
            raise RegistrationError(f"--process-stage {process_id}: {stage!r} is not one of {allowed}") from None
    return stages


def _number(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _meter(m: MeterConfig) -> dict[str, Any]:
    body: dict[str, Any] = {
        "meter_id": m.meter_id,
        "process_id": m.process_id,
        "activity_kind": m.activity_kind.value,
        "activity": m.activity,
        "unit": m.unit,
        "reading_kind": m.kind.value,
        "counter_modulus": _number(m.rollover),
        "max_rate_per_hour": _number(m.max_rate_per_hour),
        "reset_floor": str(m.reset_floor),
        "interval_seconds": m.interval_seconds,
        "product_id": m.product_id,
    }
    return {k: v for k, v in body.items() if v is not None}


def site_request(plant: PlantConfig, key: Ed25519PublicKey, overrides: SiteOverrides | None = None) -> dict[str, Any]:
    """The PUT /plants/{plant_id}/site body; raises RegistrationError naming every missing value."""
    o = overrides or SiteOverrides()
    site = plant.site
    missing: list[str] = []
    values = {
        "organisation_id": (o.organisation_id or site.organisation_id, "site.organisation_id or --organisation"),
        "name": (o.name or site.name, "site.name or --name"),
        "province": (o.province or site.province, "site.province or --province"),
        "grid_region": (o.grid_region or site.grid_region, "site.grid_region or --grid-region"),
    }
    missing += [where for value, where in values.values() if not value]
    described = {p.process_id: p for p in plant.processes}
    unknown = sorted((set(o.process_names) | set(o.process_stages)) - {m.process_id for m in plant.meters})
    unknown += sorted(set(o.product_names) - {m.product_id for m in plant.meters if m.product_id})
    if unknown:
        raise RegistrationError(f"{plant.plant_id}: options name ids no meter uses: {', '.join(unknown)}")
    processes = []
    for process_id in dict.fromkeys(m.process_id for m in plant.meters):  # in the order the meters name them
        p = described.get(process_id)
        name = o.process_names.get(process_id) or (p.name if p else None)
        stage = o.process_stages.get(process_id) or (p.stage if p else None)
        if not name:
            missing.append(f"processes[{process_id}].name or --process-name {process_id}=NAME")
        if not stage:
            missing.append(f"processes[{process_id}].stage or --process-stage {process_id}=STAGE")
        processes.append({"process_id": process_id, "name": name, "stage": stage.value if stage else None})
    if missing:
        raise RegistrationError(f"{plant.plant_id}: cannot register without " + "; ".join(missing))
    products = {p.product_id: p.name for p in plant.products} | o.product_names
    body: dict[str, Any] = {k: value for k, (value, _) in values.items()}
    if site.latitude is not None:
        body["latitude"] = str(site.latitude)
    if site.longitude is not None:
        body["longitude"] = str(site.longitude)
    body["key"] = {
        "key_id": plant.key_id or key_id_for(key),
        "public_key": base64.b64encode(public_key_to_raw(key)).decode(),
    }
    body["processes"] = processes
    body["products"] = [{"product_id": pid, "name": name} for pid, name in sorted(products.items())]
    body["meters"] = [_meter(m) for m in plant.meters]
    return body


def put_site(client: httpx.Client, plant_id: str, body: dict[str, Any]) -> httpx.Response:
    """Send the site to the admin API (`client` carries the base URL and the operator's bearer token)."""
    return client.put(f"/plants/{plant_id}/site", json=body)
