"""Stored gateway records go stale by a stamp the database keeps, not by a digest each read recomputes.

- gateway_inputs: one row per EPD version, `stamp` drawn from the sequence gateway_input_stamps.
  Row triggers on every table of the version's read model (epd_records.readmodel.VERSION_FROM:
  epd_versions, epd_series, products, plants, organisations, pcrs, epd_version_snapshots) draw a new
  stamp for each version whose read-model row the inserted, updated or deleted row can change; an
  epd_versions row also changes its predecessor's (the provisional successor the read model shows).
  The new stamp is written in the writing transaction, so it commits or rolls back with the change.
- gateway_records.stamp (replaces `inputs`, the MD5 of the whole read-model row that every page
  recomputed for every row): the stamp of the version's inputs the record was rendered from, read in
  the same statement (snapshot) as those inputs. A record is served only while its stamp is the
  version's current one: a change committed after the rendering read moved the stamp, whatever order
  the replicas store in. Existing records are deleted (derived data; rendered again on first read or
  by `epd gateway materialise`).
- gateway_records.body is stored uncompressed (STORAGE EXTERNAL): signed JSON compresses little and a
  page reads a hundred bodies, so decompressing them was pure cost.

gateway_inputs is derived bookkeeping, rewritten by every change of the audited tables it follows: like
gateway_records it is not audit-logged (0011_audit_log would add a row per stamp to every change it logs).
The portal's reader may read it with gateway_records, to tell whether a stored record is current.

Revision ID: 0015_gateway_input_stamps
Revises: 0014_evidence_hash_index
"""

from sql import script

revision = "0015_gateway_input_stamps"
down_revision = "0014_evidence_hash_index"
branch_labels = None
depends_on = None

#: The versions whose read-model row a row `{r}` (OLD or NEW) of each table takes part in.
AFFECTED = {
    "epd_versions": "SELECT unnest(ARRAY[{r}.pf_id, {r}.preceding_pf_id])",
    "epd_version_snapshots": "SELECT {r}.pf_id",
    "epd_series": "SELECT v.pf_id FROM epd_versions v WHERE v.series_id = {r}.series_id",
    "products": (
        "SELECT v.pf_id FROM epd_series s JOIN epd_versions v USING (series_id) WHERE s.product_id = {r}.product_id"
    ),
    "plants": "SELECT v.pf_id FROM epd_series s JOIN epd_versions v USING (series_id) WHERE s.plant_id = {r}.plant_id",
    "pcrs": (
        "SELECT v.pf_id FROM epd_series s JOIN epd_versions v USING (series_id) "
        "WHERE s.pcr_id = {r}.pcr_id AND s.pcr_version = {r}.version"
    ),
    # The owner of a product, or the operator of the plant when the product names none.
    "organisations": (
        "SELECT v.pf_id FROM epd_series s JOIN epd_versions v USING (series_id) "
        "JOIN products p USING (product_id) JOIN plants pl ON pl.plant_id = s.plant_id "
        "WHERE p.organisation_id = {r}.organisation_id OR pl.organisation_id = {r}.organisation_id"
    ),
}


def _trigger(table: str, affected: str) -> str:
    return f"""
        CREATE FUNCTION gateway_inputs_of_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            ids uuid[] := '{{}}';
        BEGIN
            IF TG_OP <> 'DELETE' THEN ids := ids || ARRAY({affected.format(r="NEW")}); END IF;
            IF TG_OP <> 'INSERT' THEN ids := ids || ARRAY({affected.format(r="OLD")}); END IF;
            PERFORM gateway_inputs_changed(ids);
            RETURN NULL;
        END $$;
        CREATE TRIGGER {table}_gateway_inputs AFTER INSERT OR UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION gateway_inputs_of_{table}();"""


def upgrade() -> None:
    script(
        """
        CREATE SEQUENCE gateway_input_stamps;
        CREATE TABLE gateway_inputs (
            pf_id uuid PRIMARY KEY REFERENCES epd_versions ON DELETE CASCADE,
            stamp bigint NOT NULL
        );
        -- A new stamp for each of these versions that exists (in pf_id order: concurrent writers lock alike).
        CREATE FUNCTION gateway_inputs_changed(ids uuid[]) RETURNS void LANGUAGE sql AS $$
            INSERT INTO gateway_inputs AS i (pf_id, stamp)
            SELECT v.pf_id, nextval('gateway_input_stamps') FROM epd_versions v
            WHERE v.pf_id = ANY(ids) ORDER BY v.pf_id
            ON CONFLICT (pf_id) DO UPDATE SET stamp = nextval('gateway_input_stamps')
        $$;
        INSERT INTO gateway_inputs (pf_id, stamp) SELECT pf_id, nextval('gateway_input_stamps') FROM epd_versions;

        DELETE FROM gateway_records;
        ALTER TABLE gateway_records DROP COLUMN inputs, ADD COLUMN stamp bigint NOT NULL;
        ALTER TABLE gateway_records ALTER COLUMN body SET STORAGE EXTERNAL;

        DO $$ BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'epd_portal_reader') THEN
                GRANT SELECT ON gateway_inputs TO epd_portal_reader;
            END IF;
        END $$;
        """
        + "".join(_trigger(table, affected) for table, affected in AFFECTED.items())
    )


def downgrade() -> None:
    script(
        "".join(
            f"DROP TRIGGER {table}_gateway_inputs ON {table}; DROP FUNCTION gateway_inputs_of_{table}();"
            for table in AFFECTED
        )
        + """
        DROP FUNCTION gateway_inputs_changed(uuid[]);
        DROP TABLE gateway_inputs;
        DROP SEQUENCE gateway_input_stamps;
        DELETE FROM gateway_records;
        ALTER TABLE gateway_records DROP COLUMN stamp,
            ADD COLUMN inputs text NOT NULL CHECK (inputs ~ '^[0-9a-f]{32}$');
        ALTER TABLE gateway_records ALTER COLUMN body SET STORAGE EXTENDED;
        """
    )
