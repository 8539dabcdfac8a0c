"""Seed a fresh demo database through the platform's own interfaces: the factor library, the organisation
and products (footprint admin API), plant keys and registrations (`epd connector register-plant`, which
goes through the footprint admin API too), the product category rule, the product system and imported
EPDs (footprint admin API), and a partner with its webhook endpoint and gateway client (`epd publisher`,
`epd gateway`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pathlib

import httpx
import yaml

from ..kafka import REPO
from .services import epd, run_cli

DEMO = REPO / "deploy" / "demo"
PLANTS = ("baotou-mine", "baotou-smelter", "baotou-metals")


@dataclasses.dataclass
class SeedResult:
    published_pf_ids: dict[str, str]  # product id -> pf_id of the imported (published) version 1
    client_id: str
    client_secret: str
    verifier_key: str  # the API key of the demo's verifier (`epd admin users add "Demo Verifier"`)


def plant_config(plant: str) -> pathlib.Path:
    return REPO / "services" / "connector" / "config" / f"{plant}.yaml"


def ensure_keys(key_dir: pathlib.Path, env: dict[str, str]) -> None:
    key_dir.mkdir(parents=True, exist_ok=True)
    for plant in PLANTS:
        if not (key_dir / f"{plant}.pem").exists():
            run_cli(epd("connector", "keygen", str(key_dir / f"{plant}.pem")), env)


def _post(client: httpx.Client, path: str, body: dict) -> dict:
    res = client.post(path, json=body)
    if res.status_code == 409:  # already registered by an earlier run
        return {}
    if res.status_code >= 300:
        raise RuntimeError(f"POST {path}: {res.status_code} {res.text}")
    return res.json()


def seed(
    env: dict[str, str],
    key_dir: pathlib.Path,
    admin_url: str,
    admin_token: str,
    receiver_url: str,
    receiver_secret: str,
) -> SeedResult:
    from epd_footprint.engine import compute, parse_system

    run_cli(epd("intensity", "load-factors"), env)
    ensure_keys(key_dir, env)
    products = yaml.safe_load((DEMO / "products.yaml").read_text())
    org = products["organisation"]
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=admin_url, headers=headers, timeout=30) as client:
        _post(client, "/pcrs", json.loads(json.dumps(yaml.safe_load((DEMO / "pcr.yaml").read_text()), default=str)))
        _post(client, "/organisations", org)
        for p in products["products"]:
            _post(
                client,
                "/products",
                {
                    "product_id": p["product_id"],
                    "name": p["name"],
                    "classifications": p["classifications"],
                    "organisation_id": org["organisation_id"],
                },
            )
        for plant in PLANTS:  # site, processes and product names come from the plant YAML
            run_cli(
                epd(
                    "connector",
                    "register-plant",
                    str(plant_config(plant)),
                    "--key-file",
                    str(key_dir / f"{plant}.pem.pub"),
                ),
                env,
            )
        document = yaml.safe_load((DEMO / "product-system.yaml").read_text())
        binding = yaml.safe_load((DEMO / "binding.yaml").read_text())
        _post(client, "/product-systems", {"system_id": "baotou-demo", "document": document, "binding": binding})
        published: dict[str, str] = {}
        plant_of = {p["product_id"]: p["plant_id"] for p in products["products"]}
        now = dt.datetime.now(dt.UTC)
        for fp in compute(parse_system(document), list(plant_of), detail=False):
            out = _post(
                client,
                "/epds/import",
                {
                    "product_id": fp.product,
                    "plant_id": plant_of[fp.product],
                    "pcr_id": products["pcr"]["pcr_id"],
                    "pcr_version": products["pcr"]["pcr_version"],
                    "programme_operator": products["programme_operator"],
                    "registration_number": f"EPD-CN-DEMO-{fp.product}",
                    "reference_period_start": (now - dt.timedelta(days=365)).isoformat(),
                    "reference_period_end": now.isoformat(),
                    "factor_set_version": binding["factor_set_version"],
                    "verifier": "demo verifier",
                    "valid_from": now.isoformat(),
                    "results": {m: {i: str(v) for i, v in row.items()} for m, row in fp.gwp.items()},
                },
            )
            if out:
                published[fp.product] = out["pf_id"]
    agreement = DEMO / "agreement.json"
    run_cli(
        epd(
            "publisher",
            "partners",
            "add",
            "demo-partner",
            "--name",
            "Demo partner body",
            "--country",
            "DE",
            "--agreement",
            str(agreement),
            "--endpoint-id",
            "demo-webhook",
            "--url",
            receiver_url,
            "--format",
            "webhook-pact",
            "--signing",
            "hmac",
            "--secret",
            receiver_secret,
            "--allow-private",
        ),
        env,
    )
    printed = run_cli(epd("gateway", "clients", "add", f"demo-client-{now:%H%M%S}", "--partner", "demo-partner"), env)
    creds = json.loads(printed)  # `epd gateway clients add` prints its one-time secret as JSON
    # A verifier to approve drift versions in the portal with (its key is shown once, kept in .run/demo/env).
    verifier = json.loads(run_cli(epd("admin", "users", "add", "Demo Verifier", "--role", "verifier"), env))
    return SeedResult(published, creds["client_id"], creds["client_secret"], verifier["api_key"])
