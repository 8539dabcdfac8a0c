"""The gateway serves stored bytes: PACT records rendered and signed once, and rate limits every replica shares.

- gateway_records: the exact response bytes of one version's signed PACT ProductFootprint
  (epd_records.record.signed_pact_record, as JSON the way the route writes it), per viewer variant
  (whether it accepts provisional versions: the only thing that sets viewers apart,
  epd_records.status) and signing key. `inputs` is the MD5 of the text of the version's read-model
  row (epd_records.readmodel.VERSION_SELECT: status, the owner's name and company ids, the
  product's name and classifications, the plant's province, a provisional successor, ...) as it
  was when the record was rendered; a record is served only while the row still has that digest
  and its kid is the current key, so any input change or key rotation is re-rendered before it is
  served, whoever rendered it. Results and evidence never change for a version. `status` and
  `classifications` (lower-cased productClassifications URNs) are what the list filters check.
  Written with INSERT ... ON CONFLICT by every gateway replica: Ed25519 signatures are
  deterministic, so replicas render the same bytes from the same inputs.
- gateway_rate_buckets: one token bucket per (scope, client key), taken in one statement against the
  database clock, so every replica draws on the same budget. UNLOGGED: its commits wait for no WAL
  flush, and losing it in a crash only refills the buckets. Only the key is indexed and pages keep
  room (fillfactor 50), so a take is a HOT update: a busy client's row does not bloat the index.

Neither is a state table in the sense of 0011_audit_log: stored records are derived from audited
rows (and re-derived at will), buckets are per-request traffic; like the other high-volume tables
(outbox, deliveries, windows) they are not audit-logged. The portal renders the same records, so its
reader may read them (0007_portal_reader); the buckets stay with the gateway.

Revision ID: 0013_gateway_stored_records
Revises: 0012_admin_users
"""

from sql import script

revision = "0013_gateway_stored_records"
down_revision = "0012_admin_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script("""
        CREATE TABLE gateway_records (
            pf_id               uuid NOT NULL REFERENCES epd_versions ON DELETE CASCADE,
            accepts_provisional boolean NOT NULL,
            kid                 text NOT NULL CHECK (kid ~ '^[A-Za-z0-9_-]{1,100}$'),
            inputs              text NOT NULL CHECK (inputs ~ '^[0-9a-f]{32}$'),
            status              text NOT NULL CHECK (status IN ('Active', 'Deprecated')),
            classifications     text[] NOT NULL,
            body                bytea NOT NULL,
            rendered_at         timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (pf_id, accepts_provisional, kid)
        );

        CREATE UNLOGGED TABLE gateway_rate_buckets (
            scope      text NOT NULL CHECK (scope IN ('api', 'token')),
            key        text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 300),
            tokens     double precision NOT NULL,
            allowed    boolean NOT NULL,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (scope, key)
        ) WITH (fillfactor = 50);

        DO $$ BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'epd_portal_reader') THEN
                GRANT SELECT ON gateway_records TO epd_portal_reader;
            END IF;
        END $$;
    """)


def downgrade() -> None:
    script("""
        DROP TABLE gateway_rate_buckets;
        DROP TABLE gateway_records;
    """)
