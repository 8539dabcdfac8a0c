"""`epd audit` against a fresh database: versions made by the drift rule reproduce exactly; a changed
window total or a changed factor in PostgreSQL makes the reproduction fail and name what differs; an
inclusion proof of a logged reading verifies offline, and fails for a reading that is not in its
window.

Windows go straight into the service (no Kafka): per day, three hourly windows whose Merkle roots are
those of the readings logged for them (as ingest logs them), then the 30-day window over those hours.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from footprint_chain import ROASTING, register, roasting_window
from typer.testing import CliRunner

from epd.v1 import intensity_pb2
from epd_common import signing_keys
from epd_common.db import create_pool
from epd_footprint import audit
from epd_footprint.audit_cli import app
from epd_footprint.pg_store import pg_transactions
from epd_footprint.service import FootprintService
from epd_records.errors import ProofError
from epd_records.merkle import merkle_root
from epd_records.party import ProgrammeInfo
from epd_records.proof import verify_proof
from epd_records.signing import KeyRing, new_stored_key

KEY_SECRET = "integration-test-key-secret"
COMPANY = "urn:pact:company:cn-uscc:91150200MA0N0XYZ1K"
PROGRAMME = ProgrammeInfo(operator_name="National Rare-Earth EPD Programme")
NS = 1_000_000_000


def readings(day: int, hour: int) -> list[tuple[str, int, str, bytes]]:
    """Four readings of the roasting meters in one hour: (meter, observed ns, plant, hash)."""
    w = roasting_window(day, Decimal(1))
    start = w.window_start.seconds + 3600 * hour
    return [
        (f"m{i}", (start + 60 * i) * NS, "baotou-1", hashlib.sha256(f"{day}/{hour}/{i}".encode()).digest())
        for i in range(4)
    ]


def hourly(day: int, hour: int, root: str) -> intensity_pb2.IntensityWindow:
    w = roasting_window(day, Decimal(1), size=intensity_pb2.WINDOW_SIZE_HOURLY)
    w.window_id = f"{ROASTING}|hourly|{day}|{hour}"
    w.window_start.seconds += 3600 * hour
    w.window_end.seconds = w.window_start.seconds + 3600
    w.evidence.merkle_root = root
    return w


@pytest.fixture(scope="module")
async def database(module_db):
    return module_db


@pytest.fixture(scope="module")
async def drifted(database):
    """Three days of +20 % roasting electricity: provisional versions of the roasted ore and downstream."""
    pool = await create_pool(database, max_size=4)
    await register(pool, company_ids=(COMPANY,), classifications=("hs:2846.90",))
    await pool.executemany(
        "INSERT INTO meters (meter_id, process_id, activity_kind, activity, unit, reading_kind) "
        "VALUES ($1, $2, 'electricity', 'electricity.grid', 'kWh', 'interval')",
        [(f"m{i}", ROASTING) for i in range(4)],
    )
    service = FootprintService(pg_transactions(pool))
    for day in range(3):
        roots = []
        for hour in range(3):
            rows = readings(day, hour)
            await pool.executemany(
                "INSERT INTO evidence_readings (process_id, meter_id, observed_ns, plant_id, reading_hash) "
                "VALUES ($1, $2, $3, $4, $5)",
                [(ROASTING, *r) for r in rows],
            )
            roots.append(merkle_root(r[3].hex() for r in rows))
            await service.apply_message(hourly(day, hour, roots[-1]))
        window = roasting_window(day, Decimal("1.2"))
        window.evidence.merkle_root = merkle_root(roots)
        await service.apply_message(window)
    await signing_keys.ensure(pool, KEY_SECRET, new_stored_key)
    versions = {
        r["product_id"]: r["pf_id"]
        for r in await pool.fetch(
            "SELECT s.product_id, v.pf_id FROM epd_versions v JOIN epd_series s USING (series_id) "
            "WHERE v.status = 'provisional'"
        )
    }
    assert "roasted-ore" in versions and len(versions) >= 2
    yield pool, versions
    await pool.close()


async def cli(args: list[str]):
    """`epd audit ...` in a thread (the command runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, app, args)


async def reproduction(pool, pf_id):
    async with pool.acquire() as conn:
        return await audit.load_reproduction(conn, pf_id)


async def test_every_drift_version_reproduces_exactly(drifted):
    pool, versions = drifted
    for product, pf_id in versions.items():
        rep = await reproduction(pool, pf_id)
        assert rep.ok, (product, rep.differences, [r for r in rep.rows if not r.equal])
        assert len(rep.rows) == 16 and not rep.notes
    snapshot = await pool.fetchval(
        "SELECT o.body FROM epd_version_snapshots s JOIN audit_objects o USING (digest) WHERE s.pf_id = $1",
        versions["roasted-ore"],
    )
    body = json.loads(snapshot)
    assert body["format"] == "epd-audit-snapshot/1" and body["factor_set_version"] == "set-2025.1"
    assert body["gwp_set"]["name"] == "AR6" and body["solve"]["significant_digits"] == 12
    assert [w["engine_process"] for w in body["windows"]] == ["baotou-1/acid-roasting"]
    # An imported version has no snapshot: it cannot be reproduced, and says why.
    imported = await pool.fetchval("SELECT pf_id FROM epd_versions WHERE version = 1 LIMIT 1")
    with pytest.raises(audit.AuditError, match="no audit snapshot"):
        await reproduction(pool, imported)


async def test_a_changed_window_total_is_named(drifted):
    pool, versions = drifted
    async with pool.acquire() as conn:
        tamper = conn.transaction()
        await tamper.start()
        await conn.execute("ALTER TABLE footprint_window_totals DISABLE TRIGGER footprint_window_totals_immutable")
        await conn.execute(
            """UPDATE footprint_window_totals SET activities = jsonb_set(activities, '{electricity.grid,0}', '"1"')
               WHERE process_id = $1""",
            ROASTING,
        )
        rep = await audit.load_reproduction(conn, versions["roasted-ore"])
        await tamper.rollback()  # the database as it was, for the other tests
    assert not rep.ok
    text = "\n".join(rep.differences)
    assert "stored totals changed" in text and "activity electricity.grid" in text and "1 kWh now" in text
    assert "live inventory of baotou-1/acid-roasting" in text
    assert not next(r for r in rep.rows if (r.module, r.indicator) == ("A1-A3", "GWP-total")).equal


async def test_a_changed_factor_is_named_and_the_cli_exits_1(drifted, database, monkeypatch):
    pool, versions = drifted
    document = json.loads(await pool.fetchval("SELECT document FROM footprint_product_systems"))
    changed = copy.deepcopy(document)
    grid = next(b for b in changed["background"] if b["id"] == "grid-inner-mongolia-2022")
    grid["emissions"]["CO2"] = 0.9
    await pool.execute("UPDATE footprint_product_systems SET document = $1", json.dumps(changed))
    try:
        rep = await reproduction(pool, versions["roasted-ore"])
        monkeypatch.setenv("EPD_PG_DSN", database)
        result = await cli(["reproduce", str(versions["roasted-ore"])])
    finally:
        await pool.execute("UPDATE footprint_product_systems SET document = $1", json.dumps(document))
    assert not rep.ok
    assert any("background factor grid-inner-mongolia-2022" in d and "'0.9'" in d for d in rep.differences)
    assert result.exit_code == 1 and "NOT reproduced" in result.output and "grid-inner-mongolia-2022" in result.output
    ok = await cli(["reproduce", f"urn:uuid:{versions['roasted-ore']}", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["reproduced"] is True


async def test_inclusion_proof_of_a_reading(drifted, tmp_path, database, monkeypatch):
    pool, versions = drifted
    stored = await signing_keys.load(pool, KEY_SECRET)
    ring = KeyRing.from_stored(stored.private_jwk, stored.retired_public_jwks)
    jwks = ring.public_jwks()
    meter, _, _, digest = readings(2, 1)[2]  # the drift fired at the third window (day 2)
    when = (roasting_window(2, Decimal(1)).window_start.ToDatetime() + timedelta(hours=1, minutes=2)).isoformat()
    async with pool.acquire() as conn:
        by_hash = await audit.prove(conn, digest.hex(), PROGRAMME, ring)
        by_meter = await audit.prove(conn, f"{meter}@{when}+00:00", PROGRAMME, ring)
    assert by_hash == by_meter and by_hash["version"]["pf_id"] in {str(v) for v in versions.values()}
    steps = verify_proof(by_hash, jwks)
    assert len(steps) == 5 and "signature verifies" in steps[3]
    assert by_hash["record"]["extensions"][0]["data"]["auditSnapshot"]  # the record names its snapshot

    # A reading that is not in the window: its hash does not lead to the hour's root.
    forged = copy.deepcopy(by_hash)
    forged["reading"]["hash"] = hashlib.sha256(b"not a reading").hexdigest()
    with pytest.raises(ProofError, match="not in the hourly window"):
        verify_proof(forged, jwks)
    # A reading of another hour, with this hour's path: refused the same way.
    forged["reading"]["hash"] = readings(2, 0)[0][3].hex()
    with pytest.raises(ProofError, match="not in the hourly window"):
        verify_proof(forged, jwks)
    # A window root the signed record does not carry.
    tampered = copy.deepcopy(by_hash)
    tampered["version"]["evidence_root"] = "0" * 64
    with pytest.raises(ProofError):
        verify_proof(tampered, jwks)

    # The CLI: prove to a file, verify it offline against a JWKS file.
    monkeypatch.setenv("EPD_PG_DSN", database)
    monkeypatch.setenv("EPD_RECORDS_KEY_SECRET", KEY_SECRET)
    proof_file, jwks_file = tmp_path / "proof.json", tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(jwks))
    made = await cli(["prove", digest.hex(), "--out", str(proof_file)])
    assert made.exit_code == 0, made.output
    checked = await cli(["verify-proof", str(proof_file), "--jwks", str(jwks_file)])
    assert checked.exit_code == 0 and "proof holds" in checked.output, checked.output
    proof_file.write_text(json.dumps(forged))
    refused = await cli(["verify-proof", str(proof_file), "--jwks", str(jwks_file)])
    assert refused.exit_code == 1 and "does NOT hold" in refused.output
    unknown = await cli(["prove", "f" * 64])
    assert unknown.exit_code == 2 and "no accepted reading" in unknown.output
    other = await cli(["prove", digest.hex(), "--version", str(uuid.uuid4())])
    assert other.exit_code == 2
