"""Stored gateway records keep their bodies in the row, not in the TOAST table.

A PACT record's body is ~3 KB of signed JSON. With the default TOAST target (~2 KB) every body went
out of line (STORAGE EXTERNAL, 0015_gateway_input_stamps): a page of a hundred records paid a
hundred TOAST index probes and two chunk fetches each, ~0.5 ms of PostgreSQL CPU a page. With
`toast_tuple_target` at its maximum (8160 bytes: a page less its header) a row up to that size stays
in the heap as it is; larger bodies still go out of line, uncompressed (STORAGE EXTERNAL stays).
Existing rows are rewritten so they move in (a new value is toasted by the new target; the old
chunks go with the next vacuum).

No new table, column or grant: the portal's reader keeps its SELECT on gateway_records (0013).

Revision ID: 0017_gateway_records_inline
Revises: 0016_ingest_seen_stamps
"""

from sql import script

revision = "0017_gateway_records_inline"
down_revision = "0016_ingest_seen_stamps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script("""
        ALTER TABLE gateway_records SET (toast_tuple_target = 8160);
        UPDATE gateway_records SET body = body || ''::bytea;
    """)


def downgrade() -> None:
    script("""
        ALTER TABLE gateway_records RESET (toast_tuple_target);
        UPDATE gateway_records SET body = body || ''::bytea;
    """)
