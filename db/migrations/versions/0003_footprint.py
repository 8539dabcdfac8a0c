"""Footprint service: product systems, live inventories, applied windows, drift state and events, policies.

- footprint_product_systems: immutable, versioned documents in the engine's format
  (services/footprint/docs/product-system-format.md) as jsonb, plus the binding of engine processes
  to registry processes and of window activity codes to background activities / direct gases.
  Process inputs, outputs, allocation, background activities (factors with sources) and the GWP set
  stay INSIDE the document: the engine validates and solves a document as a whole, a version is an
  immutable snapshot, and normalising them into rows would give two sources of truth for one
  inventory. The rows that are looked up by key are normalised: footprint_system_processes (which
  systems a telemetry process feeds, indexed by registry process id) and the factor-set reference.
- footprint_live_inventories: per (system, engine process) the latest window basis applied and the
  overrides it produced (activity amounts and gases per run of the declared process). The engine's
  live system is rebuilt from the document plus these rows on start-up and on every window.
- footprint_applied_windows: (window_id, revision) of every window seen, with its outcome: replaying
  a window is a no-op. footprint_rejected_windows: records that could not be used (dead letters).
- footprint_drift_state: hysteresis per EPD series (consecutive count, direction, flagged, last
  deviation, the evidence of the current streak). footprint_drift_events: every drift that created
  a provisional version (origin or cascade) with reason, evidence, direction and percent.
- footprint_policies: drift-rule overrides per product or per PCR (product > PCR > default).

Revision ID: 0003_footprint
Revises: 0002_registry_and_epds
"""

from alembic import op
from sql import ident, script

revision = "0003_footprint"
down_revision = "0002_registry_and_epds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script(f"""
        CREATE TABLE footprint_product_systems (
            {ident("system_id")},
            version            integer NOT NULL CHECK (version >= 1),
            name               text NOT NULL DEFAULT '',
            -- The engine document (format epd-product-system/1) and its binding to the registry.
            document           jsonb NOT NULL,
            binding            jsonb NOT NULL,
            factor_set_version text NOT NULL CHECK (char_length(factor_set_version) BETWEEN 1 AND 100),
            created_at         timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (system_id, version)
        );

        -- Normalised from the binding: engine process -> registry process, for window routing.
        CREATE TABLE footprint_system_processes (
            system_id          text NOT NULL,
            version            integer NOT NULL,
            engine_process_id  text NOT NULL,
            process_id         text NOT NULL REFERENCES processes,
            telemetry_backed   boolean NOT NULL,
            PRIMARY KEY (system_id, version, engine_process_id),
            FOREIGN KEY (system_id, version) REFERENCES footprint_product_systems
        );
        CREATE INDEX footprint_system_processes_by_process ON footprint_system_processes (process_id);

        CREATE TABLE footprint_live_inventories (
            system_id          text NOT NULL,
            engine_process_id  text NOT NULL,
            window_id          text NOT NULL,
            revision           integer NOT NULL CHECK (revision >= 0),
            window_size        text NOT NULL,
            window_start       timestamptz NOT NULL,
            window_end         timestamptz NOT NULL,
            merkle_root        text NOT NULL,
            inventory          jsonb NOT NULL,
            updated_at         timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (system_id, engine_process_id)
        );

        CREATE TABLE footprint_applied_windows (
            window_id    text NOT NULL CHECK (char_length(window_id) BETWEEN 1 AND 200),
            revision     integer NOT NULL CHECK (revision >= 0),
            process_id   text NOT NULL,
            window_start timestamptz,
            window_end   timestamptz,
            merkle_root  text NOT NULL DEFAULT '',
            outcome      text NOT NULL,
            detail       text NOT NULL DEFAULT '',
            applied_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (window_id, revision)
        );

        CREATE TABLE footprint_rejected_windows (
            rejected_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            topic        text NOT NULL,
            partition    integer NOT NULL,
            "offset"     bigint NOT NULL,
            reason       text NOT NULL,
            detail       text NOT NULL DEFAULT '',
            payload      bytea,
            rejected_at  timestamptz NOT NULL DEFAULT now(),
            UNIQUE (topic, partition, "offset")
        );

        CREATE TABLE footprint_drift_state (
            series_id     uuid PRIMARY KEY REFERENCES epd_series,
            consecutive   integer NOT NULL DEFAULT 0 CHECK (consecutive >= 0),
            direction     text CHECK (direction IN ('deterioration', 'improvement')),
            flagged       boolean NOT NULL DEFAULT false,
            last_live     numeric,
            last_percent  numeric,
            -- [{{window_id, revision, merkle_root, window_start, window_end}}] of the current streak.
            streak        jsonb NOT NULL DEFAULT '[]',
            updated_at    timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE footprint_drift_events (
            drift_event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            series_id      uuid NOT NULL REFERENCES epd_series,
            product_id     text NOT NULL,
            cause          text NOT NULL CHECK (cause IN ('drift', 'cascade')),
            origin_product_id text NOT NULL,
            direction      text CHECK (direction IN ('deterioration', 'improvement')),
            percent        numeric NOT NULL,
            live_value     numeric NOT NULL,
            published_value numeric NOT NULL,
            reason         text NOT NULL,
            evidence       jsonb NOT NULL,
            window_id      text NOT NULL,
            revision       integer NOT NULL,
            pf_id          uuid REFERENCES epd_versions,
            created_at     timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX footprint_drift_events_by_product ON footprint_drift_events (product_id, created_at);

        CREATE TABLE footprint_policies (
            scope       text NOT NULL CHECK (scope IN ('product', 'pcr')),
            {ident("scope_id")},
            threshold   numeric NOT NULL CHECK (threshold > 0 AND threshold < 10),
            consecutive integer NOT NULL CHECK (consecutive BETWEEN 1 AND 10000),
            watch_deterioration boolean NOT NULL DEFAULT true,
            watch_improvement   boolean NOT NULL DEFAULT true,
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (scope, scope_id)
        );
    """)


def downgrade() -> None:
    op.execute("""
        DROP TABLE footprint_policies, footprint_drift_events, footprint_drift_state, footprint_rejected_windows,
                   footprint_applied_windows, footprint_live_inventories, footprint_system_processes,
                   footprint_product_systems
    """)
