"""evidence_readings looked up by reading hash through a hash index instead of a B-tree.

`epd audit prove HASH` is the only reader by hash (services/footprint/src/epd_footprint/audit.py,
find_reading: `WHERE reading_hash = $1`), an equality lookup, which a hash index serves. Ingest
writes one row per accepted reading in the transaction that saves its state; the SHA-256 keys are
uniformly random, so each insert into a B-tree of 32-byte keys touched a random leaf, and it was the
largest cost of the save (bench/bench_ingest.py): a hash index stores a 4-byte hash code per row.

Revision ID: 0014_evidence_hash_index
Revises: 0013_gateway_stored_records
"""

from sql import script

revision = "0014_evidence_hash_index"
down_revision = "0013_gateway_stored_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script("""
        DROP INDEX evidence_readings_by_hash;
        CREATE INDEX evidence_readings_by_hash ON evidence_readings USING hash (reading_hash);
    """)


def downgrade() -> None:
    script("""
        DROP INDEX evidence_readings_by_hash;
        CREATE INDEX evidence_readings_by_hash ON evidence_readings (reading_hash);
    """)
