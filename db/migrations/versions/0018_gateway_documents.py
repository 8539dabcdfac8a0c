"""The gateway stores its ILCD+EPD and openEPD documents as it stores PACT records: rendered and signed
once, served as bytes.

- gateway_documents: the exact response bytes of one version's ILCD+EPD XML (`ilcd`) or openEPD JSON
  (`openepd`) document for one viewer variant (whether it accepts provisional versions) and signing key,
  with the detached JWS over those bytes that the response carries (`signature`; Ed25519 is
  deterministic, so every replica stores the same). `stamp` is the version's gateway_inputs stamp read
  in the same statement as the inputs it was rendered from (0015_gateway_input_stamps): a document is
  served only while that is still the version's stamp and its kid is the current key, like a record of
  gateway_records. Documents run to tens of KB and compress well (XML), so they keep PostgreSQL's default
  storage (compressed, out of line).
- gateway_inputs_stamp: an index on gateway_inputs (stamp), so the gateway finds the versions whose
  inputs changed since it last looked (it renders them ahead of the first read) without a scan.

Like gateway_records, derived from audited rows and re-derived at will: not audit-logged (0011_audit_log),
and only the gateway reads it.

Revision ID: 0018_gateway_documents
Revises: 0017_gateway_records_inline
"""

from sql import script

revision = "0018_gateway_documents"
down_revision = "0017_gateway_records_inline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script("""
        CREATE TABLE gateway_documents (
            pf_id               uuid NOT NULL REFERENCES epd_versions ON DELETE CASCADE,
            format              text NOT NULL CHECK (format IN ('ilcd', 'openepd')),
            accepts_provisional boolean NOT NULL,
            kid                 text NOT NULL CHECK (kid ~ '^[A-Za-z0-9_-]{1,100}$'),
            stamp               bigint NOT NULL,
            body                bytea NOT NULL,
            signature           text NOT NULL CHECK (char_length(signature) BETWEEN 1 AND 1000),
            rendered_at         timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (pf_id, format, accepts_provisional, kid)
        );
        CREATE INDEX gateway_inputs_stamp ON gateway_inputs (stamp);
    """)


def downgrade() -> None:
    script("""
        DROP INDEX gateway_inputs_stamp;
        DROP TABLE gateway_documents;
    """)
