"""People behind every decision: admin API users, who decided a version and why, who registered data.

- admin_users: one row per person. `roles` is a non-empty set of operator (registry writes, imports,
  PCRs, plant keys), verifier (approve, reject, withdraw) and auditor (reads); every user reads. The
  API key is `epdk_<key_id>_<secret>`: key_id is looked up, only an scrypt hash of the secret is kept
  (epd_common.crypto, the gateway's parameters). A disabled user keeps its row (decisions name it).
- epd_versions.decided_by / decision_reason: the user who approved, rejected or withdrew the version,
  and the reason given for a rejection or withdrawal (an approval has none).
- plants.registered_by, products.registered_by: the user id that registered the row through the admin
  API ('bootstrap' for the legacy operator token; NULL before this revision). A verifier who registered
  a product or its plant may not approve that product's versions (separation of duties).

Not granted to epd_portal_reader: admin_users (key hashes) stays with the footprint service.
Users are state like partners and clients: their changes go to the audit log (0011_audit_log), the key
hash as its SHA-256 only.

Revision ID: 0012_admin_users
Revises: 0011_audit_log
"""

from sql import script

revision = "0012_admin_users"
down_revision = "0011_audit_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script("""
        CREATE TABLE admin_users (
            user_id     text PRIMARY KEY CHECK (user_id ~ '^usr_[a-z0-9]{16}$'),
            name        text NOT NULL UNIQUE
                        CHECK (char_length(name) BETWEEN 1 AND 100 AND name !~ '[[:cntrl:]]'),
            roles       text[] NOT NULL CHECK (cardinality(roles) BETWEEN 1 AND 3
                        AND roles <@ ARRAY['operator', 'verifier', 'auditor']::text[]),
            key_id      text NOT NULL UNIQUE CHECK (key_id ~ '^[a-z0-9]{16}$'),
            key_hash    text NOT NULL CHECK (key_hash LIKE 'scrypt$%'),
            created_at  timestamptz NOT NULL DEFAULT now(),
            disabled_at timestamptz
        );

        ALTER TABLE epd_versions
            ADD COLUMN decided_by text REFERENCES admin_users,
            ADD COLUMN decision_reason text CHECK (char_length(decision_reason) BETWEEN 1 AND 2000);
        ALTER TABLE plants ADD COLUMN registered_by text;
        ALTER TABLE products ADD COLUMN registered_by text;

        CREATE CONSTRAINT TRIGGER admin_users_audit_log AFTER INSERT OR UPDATE OR DELETE ON admin_users
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_log_record('user_id', 'key_hash');
    """)


def downgrade() -> None:
    script("""
        ALTER TABLE products DROP COLUMN registered_by;
        ALTER TABLE plants DROP COLUMN registered_by;
        ALTER TABLE epd_versions DROP COLUMN decision_reason, DROP COLUMN decided_by;
        DROP TRIGGER admin_users_audit_log ON admin_users;
        DROP TABLE admin_users;
    """)
