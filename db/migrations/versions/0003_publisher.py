"""Publisher: relay positions, subscriber positions, partner endpoints, deliveries and their attempt log,
and the registry example's mirror table.

- relay_positions: last product_sequence the relay published per product, updated in the same
  transaction that marks outbox rows published; a row is only published when it is the next one
  (a late-committing earlier row of the product holds the later ones back).
- subscriber_positions: the subscriber library's durable dedupe state (last applied sequence per
  subscriber and product), updated in the transaction of the subscriber's own effect.
- partner_endpoints: where a partner's deliveries go (URL checked by the SSRF guard at registration
  and before every attempt); secret is the Standard Webhooks signing key (whsec_/whsk_).
- deliveries: one row per (event, endpoint); the sender claims due rows with SKIP LOCKED.
- delivery_attempts: every attempt, for the delivery log.

Revision ID: 0003_publisher
Revises: 0002_registry_and_epds
"""

from alembic import op
from sql import script

revision = "0003_publisher"
down_revision = "0002_registry_and_epds"
branch_labels = None
depends_on = None

TEXT_ID = "text NOT NULL CHECK (char_length({c}) BETWEEN 1 AND 200 AND {c} !~ '[[:cntrl:]]')"


def upgrade() -> None:
    script(f"""
        CREATE TABLE relay_positions (
            product_id    text PRIMARY KEY,
            last_sequence bigint NOT NULL,
            updated_at    timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE subscriber_positions (
            subscriber    text NOT NULL,
            product_id    text NOT NULL,
            last_sequence bigint NOT NULL,
            updated_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (subscriber, product_id)
        );

        CREATE TABLE partner_endpoints (
            endpoint_id     {TEXT_ID.format(c="endpoint_id")} PRIMARY KEY,
            partner_id      text NOT NULL REFERENCES partners,
            url             text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
            format          text NOT NULL CHECK (format IN ('pact', 'webhook-pact', 'webhook-openepd')),
            signing         text NOT NULL DEFAULT 'hmac' CHECK (signing IN ('hmac', 'ed25519', 'none')),
            secret          text,
            -- PACT format: OAuth2 client credentials at the partner's token endpoint.
            token_url       text,
            client_id       text,
            client_secret   text,
            allow_private   boolean NOT NULL DEFAULT false,
            created_at      timestamptz NOT NULL DEFAULT now(),
            disabled_at     timestamptz,
            disabled_reason text,
            CHECK (signing = 'none' OR secret IS NOT NULL),
            CHECK (format <> 'pact' OR (token_url IS NOT NULL AND client_id IS NOT NULL
                                        AND client_secret IS NOT NULL))
        );

        CREATE TABLE deliveries (
            delivery_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id         uuid NOT NULL,
            endpoint_id      text NOT NULL REFERENCES partner_endpoints,
            partner_id       text NOT NULL,
            product_id       text NOT NULL,
            product_sequence bigint NOT NULL,
            -- Serialised epd.v1.FootprintChanged as received from the change feed.
            payload          bytea NOT NULL,
            state            text NOT NULL DEFAULT 'pending'
                             CHECK (state IN ('pending', 'delivered', 'dead', 'disabled')),
            attempts         integer NOT NULL DEFAULT 0,
            first_attempt_at timestamptz,
            next_attempt_at  timestamptz NOT NULL,
            last_status      integer,
            last_error       text,
            created_at       timestamptz NOT NULL DEFAULT now(),
            finished_at      timestamptz,
            UNIQUE (event_id, endpoint_id)
        );
        CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
        CREATE INDEX deliveries_dead ON deliveries (endpoint_id) WHERE state IN ('dead', 'disabled');

        CREATE TABLE delivery_attempts (
            attempt_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            delivery_id  bigint NOT NULL REFERENCES deliveries,
            attempt      integer NOT NULL,
            attempted_at timestamptz NOT NULL,
            status       integer,
            error        text,
            action       text NOT NULL,
            reason       text NOT NULL,
            duration_ms  integer NOT NULL
        );
        CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, attempt);

        -- registry_example: a registry's mirror of the latest version per product.
        CREATE TABLE registry_mirror (
            product_id       text PRIMARY KEY,
            pf_id            uuid NOT NULL,
            version          integer NOT NULL,
            product_sequence bigint NOT NULL,
            status           text NOT NULL,
            record           bytea NOT NULL,
            updated_at       timestamptz NOT NULL DEFAULT now()
        );
    """)


def downgrade() -> None:
    op.execute("""
        DROP TABLE registry_mirror, delivery_attempts, deliveries, partner_endpoints,
                   subscriber_positions, relay_positions
    """)
