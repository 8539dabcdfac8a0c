"""Gateway listing speed: the productId filter (`lower(s.product_id) = ANY(...)`) finds its series by
index instead of filtering every joined row in list order; results of a page's versions are read by
the epd_results primary key (pf_id first), so no index is needed there.

Also: deliveries.kind, so that the publisher's sender delivers the gateway's answers to PACT
RequestCreated events (gateway_outgoing_events) through the same retries, breaker, attempt log and
dead letters as footprint events: 'footprint' rows carry a serialised FootprintChanged (as before),
'pact-event' rows carry the CloudEvent JSON to POST as it is.

Revision ID: 0004_gateway_perf
Revises: 0003_gateway
"""

from sql import script

revision = "0004_gateway_perf"
down_revision = ("0003_gateway", "0003_publisher")
branch_labels = None
depends_on = None  # merges 0003_publisher: this revision alters deliveries.kind


def upgrade() -> None:
    script("""
        CREATE INDEX epd_series_product_lower ON epd_series (lower(product_id));
        CREATE INDEX epd_versions_series_created ON epd_versions (series_id, created_at, pf_id);
        ALTER TABLE deliveries ADD COLUMN kind text NOT NULL DEFAULT 'footprint'
            CHECK (kind IN ('footprint', 'pact-event'));
    """)


def downgrade() -> None:
    script("""
        ALTER TABLE deliveries DROP COLUMN IF EXISTS kind;
        DROP INDEX IF EXISTS epd_versions_series_created;
        DROP INDEX IF EXISTS epd_series_product_lower;
    """)
