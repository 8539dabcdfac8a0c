"""Outbox change type `successor_changed`: a provisional successor of a published version appeared
or went away. Partners that accept provisional versions see the published version as Deprecated
while its successor awaits a verifier (epd_records.status), so the footprint service tells them
when that starts and ends with an outbox row for the published version.

Revision ID: 0006_successor_changes
Revises: 0005_publisher_secrets
"""

from sql import script

revision = "0006_successor_changes"
down_revision = "0005_publisher_secrets"
branch_labels = None
depends_on = None

_OLD = "'created', 'verified', 'published', 'deprecated', 'withdrawn', 'expired', 'rejected'"


def upgrade() -> None:
    script(f"""
        ALTER TABLE outbox DROP CONSTRAINT outbox_change_type_check;
        ALTER TABLE outbox ADD CONSTRAINT outbox_change_type_check
            CHECK (change_type IN ({_OLD}, 'successor_changed'));
    """)


def downgrade() -> None:
    script(f"""
        DELETE FROM outbox WHERE change_type = 'successor_changed';
        ALTER TABLE outbox DROP CONSTRAINT outbox_change_type_check;
        ALTER TABLE outbox ADD CONSTRAINT outbox_change_type_check CHECK (change_type IN ({_OLD}));
    """)
