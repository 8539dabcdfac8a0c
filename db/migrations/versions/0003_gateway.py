"""Gateway: signing keys (public and encrypted private parts apart), OAuth2 clients bound to partners,
PACT events received from partners and the events the gateway answers with.

- gateway_signing_keys holds every public key forever (the JWKS); gateway_signing_private holds the
  AES-GCM-encrypted private key of the current key only (deleted on rotation). The encryption key is
  derived (scrypt) from EPD_RECORDS_KEY_SECRET (named EPD_GATEWAY_KEY_SECRET when this revision was
  written), which never reaches the database.
- gateway_clients: one OAuth2 client per foreign body, bound to its partner (recognition agreement);
  the secret is stored as an scrypt hash.
- gateway_incoming_events: RequestCreated and Published events posted by partners (deduplicated per
  client and event id). RequestCreated rows are answered by the gateway's request worker, which writes
  the RequestFulfilled/RequestRejected event to gateway_outgoing_events for the publisher to send.
- epd_versions (created_at, pf_id) index: the stable order of the /3/footprints pagination cursor.

Revision ID: 0003_gateway
Revises: 0002_registry_and_epds
"""

from sql import script

revision = "0003_gateway"
down_revision = "0002_registry_and_epds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script("""
        CREATE TABLE gateway_signing_keys (
            kid         text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{1,100}$'),
            public_jwk  jsonb NOT NULL CHECK (NOT public_jwk ? 'd'),
            created_at  timestamptz NOT NULL DEFAULT now(),
            retired_at  timestamptz
        );
        -- Exactly one current (not retired) key.
        CREATE UNIQUE INDEX gateway_signing_keys_one_current ON gateway_signing_keys ((true))
            WHERE retired_at IS NULL;

        CREATE TABLE gateway_signing_private (
            kid         text PRIMARY KEY REFERENCES gateway_signing_keys,
            nonce       bytea NOT NULL CHECK (octet_length(nonce) = 12),
            ciphertext  bytea NOT NULL
        );

        CREATE TABLE gateway_clients (
            client_id   text PRIMARY KEY CHECK (client_id ~ '^[A-Za-z0-9._-]{1,100}$'),
            partner_id  text NOT NULL REFERENCES partners,
            secret_hash text NOT NULL,
            scopes      text[] NOT NULL DEFAULT '{footprint:list,footprint:read,events:write}',
            disabled    boolean NOT NULL DEFAULT false,
            created_at  timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE gateway_incoming_events (
            client_id   text NOT NULL REFERENCES gateway_clients,
            event_id    text NOT NULL,
            event_type  text NOT NULL,
            source      text NOT NULL,
            body        jsonb NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            answered_at timestamptz,
            PRIMARY KEY (client_id, event_id)
        );
        CREATE INDEX gateway_incoming_events_unanswered ON gateway_incoming_events (received_at)
            WHERE answered_at IS NULL AND event_type = 'org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3';

        CREATE TABLE gateway_outgoing_events (
            outgoing_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id    uuid NOT NULL UNIQUE,
            partner_id  text NOT NULL REFERENCES partners,
            client_id   text NOT NULL,
            request_event_id text NOT NULL,
            event_type  text NOT NULL,
            body        jsonb NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            sent_at     timestamptz,
            UNIQUE (client_id, request_event_id)
        );
        CREATE INDEX gateway_outgoing_events_unsent ON gateway_outgoing_events (outgoing_id) WHERE sent_at IS NULL;

        CREATE INDEX epd_versions_created_order ON epd_versions (created_at, pf_id);
    """)


def downgrade() -> None:
    script("""
        DROP INDEX IF EXISTS epd_versions_created_order;
        DROP TABLE gateway_outgoing_events, gateway_incoming_events, gateway_clients,
                   gateway_signing_private, gateway_signing_keys
    """)
