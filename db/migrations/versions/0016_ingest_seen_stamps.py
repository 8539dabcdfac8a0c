"""Ingest's dedupe window saved as one row per state save instead of one row per accepted reading.

ingest_seen_readings held (plant, meter, observed ns) with a B-tree primary key for every accepted
reading: with evidence_readings that was two heap rows and three index entries per reading in each
save, and the B-tree of text keys was the save's largest relation (bench/bench_ingest.py: ~118 bytes a
reading, more than its heap). Nothing looks a reading's stamp up in PostgreSQL: ingest keeps the window
in memory and only reloads it whole on assignment (epd_ingest.state_store.load). So a save now writes
ONE row: the distinct (plant, meter) pairs of its readings as two arrays, and each reading's pair index
and stamp as two arrays of the same length. Rows are pruned once every stamp in them is below its
meter's dedupe floor (ingest_meter_state.floor_ns); until then a load drops the stamps below the floor.

Existing rows are carried over, one row per meter. Downgrade puts the rows back one per stamp.

Revision ID: 0016_ingest_seen_stamps
Revises: 0015_gateway_input_stamps
"""

from sql import script

revision = "0016_ingest_seen_stamps"
down_revision = "0015_gateway_input_stamps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script("""
        CREATE TABLE ingest_seen_stamps (
            save_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            plant_ids   text[] NOT NULL,
            meter_ids   text[] NOT NULL CHECK (cardinality(meter_ids) = cardinality(plant_ids)),
            meter_index integer[] NOT NULL,
            observed_ns bigint[] NOT NULL CHECK (cardinality(observed_ns) = cardinality(meter_index)),
            saved_at    timestamptz NOT NULL DEFAULT now()
        );
        INSERT INTO ingest_seen_stamps (plant_ids, meter_ids, meter_index, observed_ns)
            SELECT ARRAY[plant_id], ARRAY[meter_id], array_fill(1, ARRAY[count(*)::int]),
                   array_agg(observed_ns ORDER BY observed_ns)
            FROM ingest_seen_readings GROUP BY plant_id, meter_id;
        DROP TABLE ingest_seen_readings;
    """)


def downgrade() -> None:
    script("""
        CREATE TABLE ingest_seen_readings (
            plant_id    text NOT NULL,
            meter_id    text NOT NULL,
            observed_ns bigint NOT NULL,
            PRIMARY KEY (plant_id, meter_id, observed_ns)
        );
        INSERT INTO ingest_seen_readings (plant_id, meter_id, observed_ns)
            SELECT DISTINCT s.plant_ids[r.i], s.meter_ids[r.i], r.ns
            FROM ingest_seen_stamps s, unnest(s.meter_index, s.observed_ns) AS r(i, ns);
        DROP TABLE ingest_seen_stamps;
    """)
