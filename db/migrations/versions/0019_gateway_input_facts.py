"""A list page reads one table: each version's recognition facts beside its input stamp.

gateway_inputs (0015_gateway_input_stamps) has one row per EPD version, rewritten by row triggers on
every read-model table in the changing transaction. It now also holds what a list page decides on,
read from the read model in the same statement that draws the new stamp:
- `created_at` (the listing's keyset order, indexed with pf_id),
- `status`, `was_published` (valid_from set), `superseded` (a provisional successor awaits a verifier):
  what epd_records.status decides visibility and the served status from,
- `classifications` (the product's), `pcr_id`, `pcr_version`, `pcr_standards` (the registered PCR
  version's, NULL when it is not registered): what epd_records.recognition.recognises reads.
So a page walks gateway_inputs in (created_at, pf_id) order, narrowed by the agreement and the
status and classification filters on these columns, and probes gateway_records by primary key for
the stored body of the row's stamp: no join of epd_versions, epd_series, products or pcrs and no
successor subquery per row. The facts are per version, not per stored record: a version that has no
stored record yet (new, or after a key rotation) is walked like any other, and the facts are never
older than the stamp they sit beside (one row, one statement). Agreements are not stored: they are
applied to these facts by each page statement, so an edited agreement applies to the next page.

The other filters (product, company, geography, validity) still join the read model to this walk.

Revision ID: 0019_gateway_input_facts
Revises: 0018_gateway_documents
"""

from sql import script

revision = "0019_gateway_input_facts"
down_revision = "0018_gateway_documents"
branch_labels = None
depends_on = None

#: The facts of versions `v` (epd_records.readmodel.VERSION_FROM's aliases and SUCCESSOR_SQL).
_FACTS = """
    SELECT v.pf_id, v.created_at, v.status, v.valid_from IS NOT NULL AS was_published,
           EXISTS (SELECT 1 FROM epd_versions n WHERE n.series_id = v.series_id AND n.status = 'provisional'
                   AND n.preceding_pf_id = v.pf_id) AS superseded,
           p.classifications, s.pcr_id, s.pcr_version, pcr.standards AS pcr_standards
    FROM epd_versions v
    JOIN epd_series s ON s.series_id = v.series_id
    JOIN products p ON p.product_id = s.product_id
    LEFT JOIN pcrs pcr ON pcr.pcr_id = s.pcr_id AND pcr.version = s.pcr_version"""
_NAMES = (
    "created_at",
    "status",
    "was_published",
    "superseded",
    "classifications",
    "pcr_id",
    "pcr_version",
    "pcr_standards",
)
_COLUMNS = ", ".join(_NAMES)


def _of(alias: str) -> str:
    return ", ".join(f"{alias}.{name}" for name in _NAMES)


def upgrade() -> None:
    script(f"""
        ALTER TABLE gateway_inputs
            ADD COLUMN created_at timestamptz, ADD COLUMN status text, ADD COLUMN was_published boolean,
            ADD COLUMN superseded boolean, ADD COLUMN classifications text[], ADD COLUMN pcr_id text,
            ADD COLUMN pcr_version text, ADD COLUMN pcr_standards text[];
        -- A new stamp and the facts as they are now for each of these versions that exists (in pf_id
        -- order: concurrent writers lock alike). It sees the triggering statement's rows. The trigger calls
        -- it per row, so its statement is planned once per session: PL/pgSQL (a SQL function's statement is
        -- planned at every call) with its generic plan, made of index probes (enable_seqscan off) whatever
        -- the tables held when it was planned: a handful of versions by primary key, their series, product
        -- and PCR. Left to choose, PostgreSQL planned each call (a bulk COPY of versions into a fresh
        -- database took 8 times as long), and a generic plan made while the tables were nearly empty
        -- scanned them (4 times as long, and growing with the table).
        DROP FUNCTION gateway_inputs_changed(uuid[]);
        CREATE FUNCTION gateway_inputs_changed(ids uuid[]) RETURNS void LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$ BEGIN
            INSERT INTO gateway_inputs AS i (pf_id, stamp, {_COLUMNS})
            SELECT f.pf_id, nextval('gateway_input_stamps'), {_of("f")}
            FROM ({_FACTS} WHERE v.pf_id = ANY(ids)) f ORDER BY f.pf_id
            ON CONFLICT (pf_id) DO UPDATE SET stamp = nextval('gateway_input_stamps'),
                ({_COLUMNS}) = ({_of("excluded")});
        END $$;
        UPDATE gateway_inputs i SET ({_COLUMNS}) = ({_of("f")})
        FROM ({_FACTS}) f WHERE f.pf_id = i.pf_id;
        ALTER TABLE gateway_inputs
            ALTER COLUMN created_at SET NOT NULL, ALTER COLUMN status SET NOT NULL,
            ALTER COLUMN was_published SET NOT NULL, ALTER COLUMN superseded SET NOT NULL,
            ALTER COLUMN classifications SET NOT NULL, ALTER COLUMN pcr_id SET NOT NULL,
            ALTER COLUMN pcr_version SET NOT NULL;
        CREATE INDEX gateway_inputs_order ON gateway_inputs (created_at, pf_id);
    """)


def downgrade() -> None:
    script(f"""
        DROP INDEX gateway_inputs_order;
        DROP FUNCTION gateway_inputs_changed(uuid[]);
        CREATE FUNCTION gateway_inputs_changed(ids uuid[]) RETURNS void LANGUAGE sql AS $$
            INSERT INTO gateway_inputs AS i (pf_id, stamp)
            SELECT v.pf_id, nextval('gateway_input_stamps') FROM epd_versions v
            WHERE v.pf_id = ANY(ids) ORDER BY v.pf_id
            ON CONFLICT (pf_id) DO UPDATE SET stamp = nextval('gateway_input_stamps')
        $$;
        ALTER TABLE gateway_inputs {", ".join(f"DROP COLUMN {name}" for name in _NAMES)};
    """)
