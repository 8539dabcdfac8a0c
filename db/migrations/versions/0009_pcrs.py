"""Product category rules (PCR) as first-class, versioned rows; EPD series bound to a PCR version.

- pcrs: one row per (pcr_id, version), immutable once written (a change is a new version): validity,
  declared unit, the EN 15804 modules it requires, its cut-off rule, the allocation methods it allows,
  its GWP set and the standards it conforms to, and its operator as PACT names it. The footprint
  engine refuses product systems that break a product's PCR; the record formats take these fields.
- epd_series (pcr_id, pcr_version) references pcrs. The constraint is NOT VALID: series created
  before PCRs were registered keep their text (records then fall back to the programme's defaults,
  as before), every new series must name a registered PCR version.

Revision ID: 0009_pcrs
Revises: 0008_plant_key_lifecycle
"""

from sql import ident, script

revision = "0009_pcrs"
down_revision = "0008_plant_key_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script(f"""
        CREATE TABLE pcrs (
            {ident("pcr_id")},
            version        text NOT NULL CHECK (version ~ '^[0-9]{{1,9}}(\\.[0-9]{{1,9}}){{0,5}}$'),
            name           text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 500),
            -- PACT ProductOrSectorSpecificRule.operator, and the operator's name
            operator       text NOT NULL CHECK (operator IN ('PEF', 'EPD International', 'Other')),
            operator_name  text NOT NULL CHECK (char_length(operator_name) BETWEEN 1 AND 500),
            valid_from     date NOT NULL,
            valid_until    date NOT NULL CHECK (valid_until > valid_from),
            declared_unit_amount numeric NOT NULL CHECK (declared_unit_amount > 0),
            declared_unit  text NOT NULL CHECK (char_length(declared_unit) BETWEEN 1 AND 20),
            modules        text[] NOT NULL CHECK (cardinality(modules) >= 1),
            cut_off_rule   text NOT NULL CHECK (char_length(cut_off_rule) BETWEEN 1 AND 2000),
            allocation_methods text[] NOT NULL
                CHECK (allocation_methods <@ ARRAY['mass', 'economic', 'explicit']::text[]),
            gwp_set        text NOT NULL CHECK (gwp_set IN ('AR4', 'AR5', 'AR6')),
            standards      text[] NOT NULL CHECK (cardinality(standards) >= 1),
            created_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (pcr_id, version)
        );

        CREATE FUNCTION pcr_rows_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'PCR versions are immutable (%): register a new version', TG_OP;
        END $$;
        CREATE TRIGGER pcrs_immutable BEFORE UPDATE OR DELETE ON pcrs
            FOR EACH ROW EXECUTE FUNCTION pcr_rows_immutable();

        ALTER TABLE epd_series ADD CONSTRAINT epd_series_pcr_fkey
            FOREIGN KEY (pcr_id, pcr_version) REFERENCES pcrs (pcr_id, version) NOT VALID;

        -- The portal renders the same records as the gateway, PCR fields included (0007_portal_reader).
        DO $$ BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'epd_portal_reader') THEN
                GRANT SELECT ON pcrs TO epd_portal_reader;
            END IF;
        END $$;
    """)


def downgrade() -> None:
    script("""
        ALTER TABLE epd_series DROP CONSTRAINT epd_series_pcr_fkey;
        DROP TABLE pcrs;
        DROP FUNCTION pcr_rows_immutable();
    """)
