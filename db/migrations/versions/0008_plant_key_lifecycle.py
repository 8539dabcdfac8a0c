"""Plant key lifecycle: a key is revoked with an effective time and a reason; every registry write is
announced so ingest reloads its snapshot without a restart.

- `plant_keys.revoked_at` / `revocation_reason`: set together and only once (the admin API refuses a
  second, different revocation); `retired_at` (since 0002) is set by a rotation. Ingest refuses a
  batch signed with a key that stopped counting at or before the batch's creation or any of its
  readings (reasons KEY_REVOKED, KEY_RETIRED).
- Statement triggers on plants, plant_keys, processes and meters notify channel
  `epd_plant_registry` (epd_ingest.pg_registry listens on it).

Revision ID: 0008_plant_key_lifecycle
Revises: 0007_portal_reader
"""

from sql import script

revision = "0008_plant_key_lifecycle"
down_revision = "0007_portal_reader"
branch_labels = None
depends_on = None

_TABLES = ("plants", "plant_keys", "processes", "meters")


def upgrade() -> None:
    triggers = "\n".join(
        f"""CREATE TRIGGER {t}_announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {t}
            FOR EACH STATEMENT EXECUTE FUNCTION announce_plant_registry_change();"""
        for t in _TABLES
    )
    script(f"""
        ALTER TABLE plant_keys
            ADD COLUMN revoked_at timestamptz,
            ADD COLUMN revocation_reason text
                CHECK (char_length(revocation_reason) BETWEEN 1 AND 500
                       AND revocation_reason !~ '[[:cntrl:]]'),
            ADD CONSTRAINT plant_keys_revocation_complete
                CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL));

        CREATE FUNCTION announce_plant_registry_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('epd_plant_registry', TG_TABLE_NAME);
            RETURN NULL;
        END $$;
        {triggers}
    """)


def downgrade() -> None:
    drops = "\n".join(f"DROP TRIGGER {t}_announce ON {t};" for t in _TABLES)
    script(f"""
        {drops}
        DROP FUNCTION announce_plant_registry_change();
        ALTER TABLE plant_keys DROP CONSTRAINT plant_keys_revocation_complete,
            DROP COLUMN revocation_reason, DROP COLUMN revoked_at;
    """)
