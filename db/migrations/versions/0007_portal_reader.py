"""The public registry portal's read-only role: `epd_portal_reader` may SELECT what the portal shows
and nothing else; the portal logs in as a member of it (locally `epd_portal`, made by the devstack;
elsewhere a login role the database administrator grants it to) and refuses to start with a role
that could write (epd_portal.repository.Repository.check_read_only).

- Plants: only their id, organisation, name, province and grid region (a public page names a
  plant's region, never its coordinates), so latitude and longitude cannot be read at all.
- Outbox: only which version changed how and when (the history of each version), not the payloads.
- The record-signing keys: the portal signs its downloads with the programme's current key, as the
  gateway does (the private key is sealed with EPD_RECORDS_KEY_SECRET, which the portal needs too).
- Not granted: plant keys, meters, processes, partners and their agreements, clients, deliveries,
  the footprint service's live inventories and drift state, the inbox.

The role is cluster-wide: it is created when missing (the migrating role then needs CREATEROLE, or an
administrator creates it first: `CREATE ROLE epd_portal_reader NOLOGIN`) and kept on downgrade.

Revision ID: 0007_portal_reader
Revises: 0006_successor_changes, 0003_footprint, 0003_factor_sets
"""

from sql import script

revision = "0007_portal_reader"
down_revision = ("0006_successor_changes", "0003_footprint", "0003_factor_sets")
branch_labels = None
depends_on = None

ROLE = "epd_portal_reader"
TABLES = (
    "organisations, products, epd_series, epd_versions, epd_results, epd_evidence, footprint_drift_events, "
    "footprint_product_systems, footprint_applied_windows, factor_sets, emission_factors, gwp_values, "
    "gateway_signing_keys, gateway_signing_private"
)


def upgrade() -> None:
    script(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                CREATE ROLE {ROLE} NOLOGIN;
            END IF;
        END $$;
        GRANT USAGE ON SCHEMA public TO {ROLE};
        GRANT SELECT ON {TABLES} TO {ROLE};
        GRANT SELECT (plant_id, organisation_id, name, province, grid_region) ON plants TO {ROLE};
        GRANT SELECT (outbox_id, pf_id, change_type, created_at) ON outbox TO {ROLE};
    """)


def downgrade() -> None:
    script(f"""
        REVOKE SELECT ON {TABLES} FROM {ROLE};
        REVOKE SELECT (plant_id, organisation_id, name, province, grid_region) ON plants FROM {ROLE};
        REVOKE SELECT (outbox_id, pf_id, change_type, created_at) ON outbox FROM {ROLE};
        REVOKE USAGE ON SCHEMA public FROM {ROLE};
    """)
