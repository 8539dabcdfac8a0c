"""Registry and certified footprints: organisations, plants (with signing keys), processes, meters,
products, partners; EPD series, immutable versions with results and evidence; the outbox.

Shared by several services: ingest reads plants, keys and meters; footprint writes versions and
outbox rows in one transaction; the publisher relays the outbox; the gateway serves versions.
Later revisions add each service's own tables and branch from here.

Design notes:
- Identifiers that come from plants and operators are text with a CHECK on length and characters,
  so NUL bytes and control characters never reach an index (DESIGN.md section 6).
- Every EPD version row is immutable but for its status; the status lifecycle is enforced in the
  footprint domain (epd_footprint.domain.lifecycle) and, for the invariants that make concurrent
  workers safe, by the partial unique indexes below.
- outbox.transaction_id is the writing transaction's xid8, so the relay can poll with the snapshot
  rule `transaction_id < pg_snapshot_xmin(pg_current_snapshot())` and never skip a row that
  commits late. product_sequence is assigned under a per-product row lock (outbox_sequences), so
  each product's events have one gap-free order.

Revision ID: 0002_registry_and_epds
Revises: 0001_foundation
"""

from alembic import op
from sql import ident, script

revision = "0002_registry_and_epds"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script(f"""
        CREATE TABLE organisations (
            {ident("organisation_id")} PRIMARY KEY,
            name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 500),
            country      text NOT NULL DEFAULT 'CN' CHECK (country ~ '^[A-Z]{{2}}$'),
            company_ids  text[] NOT NULL DEFAULT '{{}}',
            created_at   timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE plants (
            {ident("plant_id")} PRIMARY KEY,
            organisation_id text NOT NULL REFERENCES organisations,
            name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 500),
            province     text NOT NULL,
            grid_region  text NOT NULL,
            latitude     numeric CHECK (latitude BETWEEN -90 AND 90),
            longitude    numeric CHECK (longitude BETWEEN -180 AND 180),
            created_at   timestamptz NOT NULL DEFAULT now()
        );

        -- Ed25519 public keys that sign a plant's telemetry batches; retired keys stay for audit.
        CREATE TABLE plant_keys (
            plant_id     text NOT NULL REFERENCES plants,
            {ident("key_id")},
            public_key   bytea NOT NULL CHECK (octet_length(public_key) = 32),
            created_at   timestamptz NOT NULL DEFAULT now(),
            retired_at   timestamptz,
            PRIMARY KEY (plant_id, key_id)
        );

        CREATE TABLE processes (
            {ident("process_id")} PRIMARY KEY,
            plant_id     text NOT NULL REFERENCES plants,
            name         text NOT NULL,
            stage        text NOT NULL CHECK (stage IN ('mining', 'beneficiation', 'roasting', 'leaching',
                                   'separation', 'electrolysis', 'magnet', 'other')),
            telemetry_backed boolean NOT NULL DEFAULT true
        );

        CREATE TABLE products (
            {ident("product_id")} PRIMARY KEY,
            name             text NOT NULL,
            declared_unit    text NOT NULL DEFAULT 'kg',
            classifications  text[] NOT NULL DEFAULT '{{}}',
            purity           numeric CHECK (purity > 0 AND purity <= 1),
            organisation_id  text REFERENCES organisations
        );

        CREATE TABLE meters (
            {ident("meter_id")} PRIMARY KEY,
            process_id    text NOT NULL REFERENCES processes,
            activity_kind text NOT NULL CHECK (activity_kind IN ('electricity', 'fuel', 'steam', 'reagent',
                                   'direct_emission', 'product_output')),
            activity      text NOT NULL CHECK (activity ~ '^[a-z0-9][a-z0-9.-]{{0,99}}$'),
            unit          text NOT NULL,
            reading_kind  text NOT NULL CHECK (reading_kind IN ('interval', 'counter')),
            counter_modulus numeric CHECK (counter_modulus > 0),
            max_rate_per_hour numeric CHECK (max_rate_per_hour > 0),
            product_id    text REFERENCES products
        );

        CREATE TABLE partners (
            {ident("partner_id")} PRIMARY KEY,
            name        text NOT NULL,
            country     text NOT NULL CHECK (country ~ '^[A-Z]{{2}}$'),
            -- RecognitionAgreement (epd_publisher.delivery.recognition) as JSON.
            agreement   jsonb NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            disabled_at timestamptz
        );

        CREATE TABLE epd_series (
            series_id           uuid PRIMARY KEY,
            product_id          text NOT NULL REFERENCES products,
            plant_id            text NOT NULL REFERENCES plants,
            pcr_id              text NOT NULL,
            pcr_version         text NOT NULL,
            programme_operator  text NOT NULL,
            registration_number text NOT NULL UNIQUE,
            created_at          timestamptz NOT NULL DEFAULT now(),
            UNIQUE (product_id, plant_id)
        );

        CREATE TABLE epd_versions (
            pf_id            uuid PRIMARY KEY,
            series_id        uuid NOT NULL REFERENCES epd_series,
            version          integer NOT NULL CHECK (version >= 1),
            status           text NOT NULL CHECK (status IN ('draft', 'provisional', 'verified', 'published',
                                   'deprecated', 'withdrawn', 'expired', 'rejected')),
            preceding_pf_id  uuid REFERENCES epd_versions,
            declared_unit    text NOT NULL DEFAULT 'kg',
            reference_period_start timestamptz NOT NULL,
            reference_period_end   timestamptz NOT NULL CHECK (reference_period_end > reference_period_start),
            factor_set_version text NOT NULL,
            gwp_set          text NOT NULL DEFAULT 'AR6',
            allocation_basis text NOT NULL CHECK (allocation_basis IN ('none', 'mass', 'economic')),
            allocation_price_basis text,
            verifier         text,
            valid_from       timestamptz,
            valid_until      timestamptz CHECK (valid_until IS NULL OR valid_until > valid_from),
            reason           text NOT NULL,
            -- Set on versions created by the drift rule: what triggered it (e.g. the evaluation id).
            trigger_key      text,
            created_at       timestamptz NOT NULL DEFAULT now(),
            status_changed_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (series_id, version),
            CHECK (allocation_basis <> 'economic' OR allocation_price_basis IS NOT NULL)
        );
        -- At most one open (draft or provisional) version per series: two workers reacting to one
        -- drift cannot both create a version; the loser gets a unique violation and re-reads.
        CREATE UNIQUE INDEX epd_versions_one_open ON epd_versions (series_id)
            WHERE status IN ('draft', 'provisional');
        -- At most one current published version per series.
        CREATE UNIQUE INDEX epd_versions_one_published ON epd_versions (series_id) WHERE status = 'published';
        CREATE INDEX epd_versions_status ON epd_versions (status, status_changed_at);

        CREATE TABLE epd_results (
            pf_id      uuid NOT NULL REFERENCES epd_versions,
            module     text NOT NULL CHECK (module IN ('A1', 'A2', 'A3', 'A1-A3')),
            indicator  text NOT NULL CHECK (indicator IN ('GWP-total', 'GWP-fossil', 'GWP-biogenic', 'GWP-luluc')),
            value      numeric NOT NULL,
            unit       text NOT NULL DEFAULT 'kg CO2e',
            PRIMARY KEY (pf_id, module, indicator)
        );

        CREATE TABLE epd_evidence (
            pf_id       uuid NOT NULL REFERENCES epd_versions,
            window_id   text NOT NULL,
            revision    integer NOT NULL CHECK (revision >= 0),
            merkle_root text NOT NULL CHECK (merkle_root ~ '^[0-9a-f]{{64}}$'),
            PRIMARY KEY (pf_id, window_id, revision)
        );

        CREATE TABLE outbox_sequences (
            product_id text PRIMARY KEY,
            last_sequence bigint NOT NULL
        );

        CREATE TABLE outbox (
            outbox_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            transaction_id   xid8 NOT NULL DEFAULT pg_current_xact_id(),
            event_id         uuid NOT NULL UNIQUE,
            product_id       text NOT NULL,
            product_sequence bigint NOT NULL,
            pf_id            uuid NOT NULL REFERENCES epd_versions,
            version          integer NOT NULL,
            change_type      text NOT NULL CHECK (change_type IN ('created', 'verified', 'published',
                                   'deprecated', 'withdrawn', 'expired', 'rejected')),
            -- Serialised epd.v1.FootprintChanged, built in the writing transaction.
            payload          bytea NOT NULL,
            created_at       timestamptz NOT NULL DEFAULT now(),
            published_at     timestamptz,
            UNIQUE (product_id, product_sequence)
        );
        CREATE INDEX outbox_unpublished ON outbox (transaction_id, outbox_id) WHERE published_at IS NULL;
    """)


def downgrade() -> None:
    op.execute("""
        DROP TABLE outbox, outbox_sequences, epd_evidence, epd_results, epd_versions, epd_series,
                   partners, meters, products, processes, plant_keys, plants, organisations
    """)
