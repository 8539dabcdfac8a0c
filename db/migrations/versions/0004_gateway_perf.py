"""Gateway listing speed: the productId filter (`lower(s.product_id) = ANY(...)`) finds its series by
index instead of filtering every joined row in list order; results of a page's versions are read by
the epd_results primary key (pf_id first), so no index is needed there.

Revision ID: 0004_gateway_perf
Revises: 0003_gateway
"""

from sql import script

revision = "0004_gateway_perf"
down_revision = "0003_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script("""
        CREATE INDEX epd_series_product_lower ON epd_series (lower(product_id));
        CREATE INDEX epd_versions_series_created ON epd_versions (series_id, created_at, pf_id);
    """)


def downgrade() -> None:
    script("""
        DROP INDEX IF EXISTS epd_versions_series_created;
        DROP INDEX IF EXISTS epd_series_product_lower;
    """)
