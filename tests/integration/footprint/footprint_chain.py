"""A Baotou-style chain for footprint tests: registry rows, the product system, imported EPDs, windows.

The document is services/footprint/examples/baotou-ndfeb.yaml with the acid-roasting electricity
raised to 20,000 kWh per t of calcine (ILLUSTRATIVE: it makes roasting electricity dominate, so a 20 %
rise in it moves the roasted ore by ~19 % and every downstream product by 13-19 %).
"""

from __future__ import annotations

import copy
import hashlib
import pathlib
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import yaml
from google.protobuf.timestamp_pb2 import Timestamp

from epd.v1 import intensity_pb2, telemetry_pb2
from epd_footprint import admin, pcrs
from epd_footprint import schemas as s
from epd_footprint.engine import compute, parse_system
from tests.support.pcrs import PCR

REPO = pathlib.Path(__file__).resolve().parents[3]
ROAST_KWH_PER_T = Decimal(20000)
ROASTING = "baotou-1/roasting"  # registry process (windows are keyed by it)
LEACHING = "baotou-1/leaching"
PRODUCTS = ["roasted-ore", "re-chloride", "ndpr-oxide", "lace-oxides", "ndpr-metal", "ndfeb-magnet"]
PLANT_OF = {
    "reo-concentrate": "baotou-1",
    "iron-ore": "baotou-1",
    "roasted-ore": "baotou-1",
    "re-chloride": "baotou-1",
    "ndpr-oxide": "baotou-2",
    "lace-oxides": "baotou-2",
    "ndpr-metal": "baotou-3",
    "ndfeb-magnet": "ningbo-1",
    "magnet-swarf": "ningbo-1",
}
REGISTRY_PROCESS = {
    "baotou-1/mine-beneficiation": ("baotou-1/mine", "mining"),
    "baotou-1/acid-roasting": (ROASTING, "roasting"),
    "baotou-1/leaching": ("baotou-1/leaching", "leaching"),
    "baotou-2/solvent-extraction": ("baotou-2/sx", "separation"),
    "baotou-3/molten-salt-electrolysis": ("baotou-3/electrolysis", "electrolysis"),
    "ningbo-1/magnet-making": ("ningbo-1/magnets", "magnet"),
}


def document() -> dict:
    doc = yaml.safe_load((REPO / "services/footprint/examples/baotou-ndfeb.yaml").read_text())
    doc = copy.deepcopy(doc)
    for p in doc["processes"]:
        if p["id"] == "baotou-1/acid-roasting":
            for x in p["inputs"]:
                if x.get("activity") == "grid-inner-mongolia-2022":
                    x["amount"] = str(ROAST_KWH_PER_T)
    return doc


def binding(telemetry: tuple[str, ...] = ("baotou-1/acid-roasting",)) -> dict:
    return {
        "factor_set_version": "set-2025.1",
        "processes": {
            eng: {
                "process_id": reg,
                "telemetry": eng in telemetry,
                "activities": {"electricity.grid": "grid-inner-mongolia-2022", "fuel.coal": "coal-combustion"},
            }
            for eng, (reg, _) in REGISTRY_PROCESS.items()
        },
    }


async def register(
    pool,
    system_id: str = "baotou-ndfeb",
    telemetry: tuple[str, ...] = ("baotou-1/acid-roasting",),
    company_ids: tuple[str, ...] = (),
    classifications: tuple[str, ...] = (),
    by: str = "bootstrap",
) -> dict[str, str]:
    """Registry rows, the product system and a published EPD per product (values from the engine).
    `by`: the admin user recorded as having registered the plants and products.

    `company_ids` and `classifications` (of every product) make the versions recordable for partners."""
    await pcrs.add_version(pool, PCR["pcr_id"], pcrs.PcrIn.model_validate(PCR), new=True)
    await admin.add_organisation(
        pool, s.OrganisationIn(organisation_id="org-baotou", name="Baotou RE Group", company_ids=list(company_ids))
    )
    for plant, province in (
        ("baotou-1", "inner-mongolia"),
        ("baotou-2", "inner-mongolia"),
        ("baotou-3", "inner-mongolia"),
        ("ningbo-1", "zhejiang"),
    ):
        await admin.add_plant(
            pool,
            s.PlantIn(plant_id=plant, organisation_id="org-baotou", name=plant, province=province, grid_region="north"),
            by,
        )
    for reg, stage in REGISTRY_PROCESS.values():
        await admin.add_process(pool, s.ProcessIn(process_id=reg, plant_id=reg.split("/")[0], name=reg, stage=stage))
    doc = document()
    for p in doc["products"]:
        await admin.add_product(
            pool,
            s.ProductIn(
                product_id=p["id"], name=p["name"], organisation_id="org-baotou", classifications=list(classifications)
            ),
            by,
        )
    await admin.add_product_system(
        pool, s.ProductSystemIn(system_id=system_id, document=doc, binding=binding(telemetry))
    )
    pf_ids = {}
    for fp in compute(parse_system(doc), PRODUCTS, detail=False):
        out = await admin.import_epd(
            pool,
            s.EpdImportIn(
                product_id=fp.product,
                plant_id=PLANT_OF[fp.product],
                pcr_id="pcr-rare-earths",
                pcr_version="1.0",
                programme_operator="CN-EPD",
                registration_number=f"EPD-{fp.product}",
                reference_period_start=datetime(2024, 1, 1, tzinfo=UTC),
                reference_period_end=datetime(2025, 1, 1, tzinfo=UTC),
                factor_set_version="set-2025.1",
                verifier="verifier-1",
                valid_from=datetime(2025, 2, 1, tzinfo=UTC),
                allocation_basis="economic" if fp.product in ("ndpr-oxide", "lace-oxides") else "none",
                allocation_price_basis="ILLUSTRATIVE" if fp.product in ("ndpr-oxide", "lace-oxides") else None,
                results={m: {i: str(v) for i, v in row.items()} for m, row in fp.gwp.items()},
            ),
        )
        pf_ids[fp.product] = out["pf_id"]
    return pf_ids


def _ts(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def roasting_window(
    day: int,
    factor: Decimal,
    revision: int = 0,
    size=intensity_pb2.WINDOW_SIZE_ROLLING_30D,
    output_kg: Decimal = Decimal(300_000),
) -> intensity_pb2.IntensityWindow:
    """A 30-day window of the roasting process: electricity per t = declared x `factor`."""
    return process_window(
        ROASTING, "roasted-ore", ROAST_KWH_PER_T * output_kg / 1000 * factor, output_kg, day, revision, size
    )


def leaching_window(day: int, output_kg: Decimal = Decimal(480_000)) -> intensity_pb2.IntensityWindow:
    """A 30-day window of the leaching process at its declared 40 kWh per 480 kg of re-chloride."""
    return process_window(LEACHING, "re-chloride", 40 * output_kg / 480, output_kg, day)


def process_window(
    process: str,
    product: str,
    kwh: Decimal,
    output_kg: Decimal,
    day: int,
    revision: int = 0,
    size=intensity_pb2.WINDOW_SIZE_ROLLING_30D,
) -> intensity_pb2.IntensityWindow:
    start = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(days=day)
    wid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{process}|{start.isoformat()}|{size}|{revision}"))
    return intensity_pb2.IntensityWindow(
        window_id=wid,
        process_id=process,
        plant_id="baotou-1",
        size=size,
        revision=revision,
        window_start=_ts(start),
        window_end=_ts(start + timedelta(days=30)),
        activities=[
            intensity_pb2.ActivityTotal(
                activity_kind=telemetry_pb2.ACTIVITY_KIND_ELECTRICITY,
                activity="electricity.grid",
                quantity=str(kwh),
                unit="kWh",
            )
        ],
        outputs=[intensity_pb2.ProductOutput(product_id=product, quantity_kg=str(output_kg), allocation_share="1")],
        factor_set_version="set-2025.1",
        gwp_set="AR6",
        evidence=intensity_pb2.WindowEvidence(reading_count=720, merkle_root=hashlib.sha256(wid.encode()).hexdigest()),
    )
