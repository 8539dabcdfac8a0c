"""What an auditor needs to reproduce a version and to prove a reading is inside it.

- footprint_window_totals: the totals each applied intensity window carried (activities and outputs,
  decimal text), by (window_id, revision): the inputs the live inventories were folded from.
- audit_objects: content-addressed store (key = SHA-256 of the RFC 8785 JSON of `body`), immutable.
  A version's snapshot (epd-audit-snapshot/1, services/footprint/README.md) is one such object.
- epd_version_snapshots: the snapshot of every version the footprint service computed; versions
  imported or created before this revision have none and cannot be reproduced.
- evidence_readings: every reading ingest accepted, by process and observation time, with its
  reading hash (the leaf of its hourly window's Merkle tree): `epd audit prove` builds the
  inclusion path from it. Written by ingest in the transaction that saves its state.

Revision ID: 0010_audit
Revises: 0009_pcrs, 0003_ingest (it joins the ingest branch: evidence_readings is written with its state)
"""

from sql import script

revision = "0010_audit"
down_revision = ("0009_pcrs", "0003_ingest")
branch_labels = None
depends_on = None


def upgrade() -> None:
    script("""
        CREATE TABLE footprint_window_totals (
            window_id    text NOT NULL CHECK (char_length(window_id) BETWEEN 1 AND 200),
            revision     integer NOT NULL CHECK (revision >= 0),
            process_id   text NOT NULL,
            plant_id     text NOT NULL,
            window_size  text NOT NULL,
            window_start timestamptz NOT NULL,
            window_end   timestamptz NOT NULL,
            merkle_root  text NOT NULL CHECK (merkle_root ~ '^[0-9a-f]{64}$'),
            -- {code: [quantity, unit]} and {product: kg}, decimal text as the window carried them
            activities   jsonb NOT NULL,
            outputs      jsonb NOT NULL,
            stored_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (window_id, revision)
        );

        CREATE TABLE audit_objects (
            digest     text PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
            kind       text NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 100),
            body       jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE epd_version_snapshots (
            pf_id      uuid PRIMARY KEY REFERENCES epd_versions,
            digest     text NOT NULL REFERENCES audit_objects,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE FUNCTION audit_rows_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit rows are immutable (%.%)', TG_TABLE_NAME, TG_OP;
        END $$;
        CREATE TRIGGER audit_objects_immutable BEFORE UPDATE OR DELETE ON audit_objects
            FOR EACH ROW EXECUTE FUNCTION audit_rows_immutable();
        CREATE TRIGGER epd_version_snapshots_immutable BEFORE UPDATE OR DELETE ON epd_version_snapshots
            FOR EACH ROW EXECUTE FUNCTION audit_rows_immutable();
        CREATE TRIGGER footprint_window_totals_immutable BEFORE UPDATE OR DELETE ON footprint_window_totals
            FOR EACH ROW EXECUTE FUNCTION audit_rows_immutable();

        -- observed_ns: the reading's observation time in ns since the epoch, as ingest dedupes it.
        CREATE TABLE evidence_readings (
            process_id   text NOT NULL,
            observed_ns  bigint NOT NULL,
            meter_id     text NOT NULL,
            plant_id     text NOT NULL,
            reading_hash bytea NOT NULL CHECK (octet_length(reading_hash) = 32),
            PRIMARY KEY (process_id, observed_ns, meter_id)
        );
        CREATE INDEX evidence_readings_by_hash ON evidence_readings (reading_hash);

        -- A record names its version's audit snapshot; the portal renders records (0007_portal_reader).
        DO $$ BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'epd_portal_reader') THEN
                GRANT SELECT ON epd_version_snapshots TO epd_portal_reader;
            END IF;
        END $$;
    """)


def downgrade() -> None:
    script("""
        DROP TABLE evidence_readings, epd_version_snapshots, audit_objects, footprint_window_totals;
        DROP FUNCTION audit_rows_immutable();
    """)
