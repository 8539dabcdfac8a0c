"""Foundation: the inbox table that makes every consumer idempotent.

A consumer records (consumer, message_id) in the same transaction as its effect; a redelivered
message then finds its row and is skipped. Later revisions (footprint registry, outbox, delivery
log, factor sets) branch from this one.

Revision ID: 0001_foundation
Revises:
"""

from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE inbox (
            consumer     text        NOT NULL,
            message_id   text        NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, message_id)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE inbox")
