"""Partner endpoint secrets encrypted at rest.

partner_endpoints.secret (Standard Webhooks signing key) and client_secret (OAuth2 client secret of
PACT endpoints) were plain text. They become secret_sealed / client_secret_sealed: bytea holding
AES-256-GCM ciphertext (0x01 || 12-byte nonce || ciphertext+tag) under keys derived from
EPD_PUBLISHER_SECRET_KEY (services/publisher/src/epd_publisher/endpoint_secrets.py).

Existing rows: the key is a service setting that migrations do not read, so this revision cannot
encrypt them. It drops the plain-text columns (no plain secret stays at rest) and disables every
endpoint that had a secret, with disabled_reason saying to register it again; its pending
deliveries stay pending and go out once `epd publisher partners add ... --endpoint-id <same id>`
has stored the secret again (registration replaces the endpoint and enables it).

An enabled endpoint must have the secrets its signing and format need (the checks of 0003 on the
plain columns, now on the sealed ones); a disabled one may lack them.

Downgrade restores the plain columns empty and disables the endpoints that had sealed secrets
(ciphertext cannot be decrypted in SQL either).

Revision ID: 0005_publisher_secrets
Revises: 0004_gateway_perf
"""

from sql import script

revision = "0005_publisher_secrets"
down_revision = "0004_gateway_perf"
branch_labels = None
depends_on = None

REREGISTER = (
    "secret stored in plain text before 0005_publisher_secrets: register the endpoint again "
    "(epd publisher partners add) to store it encrypted"
)
SEALED_LENGTH = "octet_length({c}) BETWEEN 29 AND 8192"  # 1 + 12 nonce + 16 tag .. a generous ceiling


def upgrade() -> None:
    script(f"""
        ALTER TABLE partner_endpoints
            ADD COLUMN secret_sealed bytea CHECK ({SEALED_LENGTH.format(c="secret_sealed")}),
            ADD COLUMN client_secret_sealed bytea CHECK ({SEALED_LENGTH.format(c="client_secret_sealed")});
        UPDATE partner_endpoints SET disabled_at = now(), disabled_reason = '{REREGISTER}'
            WHERE (secret IS NOT NULL OR client_secret IS NOT NULL) AND disabled_at IS NULL;
        -- Dropping the columns drops the 0003 checks that name them.
        ALTER TABLE partner_endpoints DROP COLUMN secret, DROP COLUMN client_secret;
        ALTER TABLE partner_endpoints
            ADD CONSTRAINT partner_endpoints_signing_secret
                CHECK (disabled_at IS NOT NULL OR signing = 'none' OR secret_sealed IS NOT NULL),
            ADD CONSTRAINT partner_endpoints_pact_credentials
                CHECK (disabled_at IS NOT NULL OR format <> 'pact'
                       OR (token_url IS NOT NULL AND client_id IS NOT NULL AND client_secret_sealed IS NOT NULL));
    """)


def downgrade() -> None:
    script("""
        ALTER TABLE partner_endpoints DROP CONSTRAINT partner_endpoints_signing_secret,
                                      DROP CONSTRAINT partner_endpoints_pact_credentials,
                                      ADD COLUMN secret text, ADD COLUMN client_secret text;
        UPDATE partner_endpoints
            SET disabled_at = now(), disabled_reason = 'sealed secret dropped by the 0005_publisher_secrets downgrade'
            WHERE (secret_sealed IS NOT NULL OR client_secret_sealed IS NOT NULL) AND disabled_at IS NULL;
        ALTER TABLE partner_endpoints DROP COLUMN secret_sealed, DROP COLUMN client_secret_sealed;
        ALTER TABLE partner_endpoints
            ADD CHECK (signing = 'none' OR secret IS NOT NULL) NOT VALID,
            ADD CHECK (format <> 'pact' OR (token_url IS NOT NULL AND client_id IS NOT NULL
                                            AND client_secret IS NOT NULL)) NOT VALID;
    """)
