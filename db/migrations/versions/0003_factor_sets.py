"""Emission factor sets: immutable versions loaded from services/intensity factor data files.

A set version, once loaded, never changes (`content_sha256` is checked on every load; a changed
file for a loaded version is refused by the loader, and these rows are never updated). Each factor
carries its citation, or `is_default` with a note saying why no checked source exists.

Revision ID: 0003_factor_sets
Revises: 0002_registry_and_epds
"""

from alembic import op  # noqa: F401  (alembic loads revisions that import it)
from sql import script

revision = "0003_factor_sets"
down_revision = "0002_registry_and_epds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script("""
        CREATE TABLE factor_sets (
            version         text PRIMARY KEY CHECK (version ~ '^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$'),
            windows_from    timestamptz NOT NULL UNIQUE,
            default_gwp_set text NOT NULL,
            year_fallback_max integer NOT NULL CHECK (year_fallback_max BETWEEN 0 AND 10),
            content_sha256  text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
            loaded_at       timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE emission_factors (
            set_version text NOT NULL REFERENCES factor_sets (version),
            factor_id   text NOT NULL,
            activity    text NOT NULL,
            source      text NOT NULL,
            unit        text NOT NULL,
            region      text NOT NULL,
            year_from   integer NOT NULL,
            year_to     integer NOT NULL CHECK (year_to >= year_from),
            gases       jsonb NOT NULL DEFAULT '{}'::jsonb,  -- gas -> kg per unit, decimal strings
            co2e        numeric,                             -- kg CO2e per unit when no gas breakdown
            citation    text NOT NULL DEFAULT '',
            is_default  boolean NOT NULL DEFAULT false,
            note        text NOT NULL DEFAULT '',
            PRIMARY KEY (set_version, factor_id),
            CHECK (is_default OR citation <> '')
        );
        CREATE INDEX emission_factors_lookup ON emission_factors (set_version, activity, region);

        CREATE TABLE gwp_values (
            set_version text NOT NULL REFERENCES factor_sets (version),
            gwp_set     text NOT NULL,
            gas         text NOT NULL,
            value       numeric NOT NULL CHECK (value > 0),
            citation    text NOT NULL,
            checked     boolean NOT NULL,
            PRIMARY KEY (set_version, gwp_set, gas)
        );

        -- Loaded sets are immutable: no updates or deletes of their rows.
        CREATE FUNCTION factor_rows_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'factor set rows are immutable (%.%)', TG_TABLE_NAME, TG_OP;
        END $$;
        CREATE TRIGGER factor_sets_immutable BEFORE UPDATE OR DELETE ON factor_sets
            FOR EACH ROW EXECUTE FUNCTION factor_rows_immutable();
        CREATE TRIGGER emission_factors_immutable BEFORE UPDATE OR DELETE ON emission_factors
            FOR EACH ROW EXECUTE FUNCTION factor_rows_immutable();
        CREATE TRIGGER gwp_values_immutable BEFORE UPDATE OR DELETE ON gwp_values
            FOR EACH ROW EXECUTE FUNCTION factor_rows_immutable();
    """)


def downgrade() -> None:
    script("""
        DROP TABLE gwp_values;
        DROP TABLE emission_factors;
        DROP TABLE factor_sets;
        DROP FUNCTION factor_rows_immutable();
    """)
