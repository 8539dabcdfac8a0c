"""Ingest state: dedupe windows, counter points, seen batch ids and consumed offsets.

Written by the ingest service (epd_ingest.state_store) after every processed poll, in
ONE transaction together with the next offsets to consume; on (re)assignment ingest reloads the
state and seeks to these offsets, so its state and its input position never disagree. Kafka
offsets are committed afterwards too, for lag monitoring only.

Also adds two meter attributes the plant YAML carries and ingest needs (reset floor, nominal
sampling interval) to the shared `meters` table.

Revision ID: 0003_ingest
Revises: 0002_registry_and_epds
"""

from alembic import op  # noqa: F401  (alembic loads revisions that import it)
from sql import script

revision = "0003_ingest"
down_revision = "0002_registry_and_epds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script("""
        ALTER TABLE meters
            ADD COLUMN reset_floor numeric NOT NULL DEFAULT 0 CHECK (reset_floor >= 0),
            ADD COLUMN interval_seconds integer NOT NULL DEFAULT 60 CHECK (interval_seconds BETWEEN 1 AND 86400);

        -- Next offset to consume per partition, written with the state it belongs to.
        CREATE TABLE ingest_offsets (
            consumer_group text NOT NULL,
            topic          text NOT NULL,
            partition      integer NOT NULL CHECK (partition >= 0),
            next_offset    bigint NOT NULL CHECK (next_offset >= 0),
            updated_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer_group, topic, partition)
        );

        -- Per meter: dedupe floor (epoch ns; older readings are refused as too late) and last counter point.
        CREATE TABLE ingest_meter_state (
            plant_id       text NOT NULL,
            meter_id       text NOT NULL,
            floor_ns       bigint,
            counter_value  numeric,
            counter_observed_at timestamptz,
            updated_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (plant_id, meter_id)
        );

        -- Accepted reading timestamps within each meter's dedupe window (rows below the floor are pruned).
        CREATE TABLE ingest_seen_readings (
            plant_id    text NOT NULL,
            meter_id    text NOT NULL,
            observed_ns bigint NOT NULL,
            PRIMARY KEY (plant_id, meter_id, observed_ns)
        );

        -- Batch ids already ingested (fast path for resent batches), pruned by age.
        CREATE TABLE ingest_seen_batches (
            batch_id  text PRIMARY KEY,
            plant_id  text NOT NULL,
            seen_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ingest_seen_batches_seen_at ON ingest_seen_batches (seen_at);
    """)


def downgrade() -> None:
    script("""
        DROP TABLE ingest_seen_batches;
        DROP TABLE ingest_seen_readings;
        DROP TABLE ingest_meter_state;
        DROP TABLE ingest_offsets;
        ALTER TABLE meters DROP COLUMN interval_seconds, DROP COLUMN reset_floor;
    """)
