"""A tamper-evident audit log: every state change of the registry, in one hash chain.

audit_log holds one row per INSERT, UPDATE (that changes something) or DELETE of a row of the state
tables below (AUDITED): seq (1, 2, 3, ... without gaps), at, actor, reason, table_name, operation,
row_key (the primary key columns), before and after (the whole row as jsonb; the SECRET columns
replaced by "sha256:<hex of the UTF-8 of their text form>", so no secret, ciphertext or secret hash
is ever copied), prev_hash (the previous row's row_hash; 32 zero bytes before row 1) and row_hash.
High-volume tables (readings, windows, outbox, inbox, deliveries, positions, inventories) are not
logged.

Who and why: a writer sets `epd.actor` and `epd.reason` in its transaction (epd_common.audit_context);
without them the actor is the database role (session_user) and the reason is null.

Chain (format epd-audit-log/1): row_hash = SHA-256 of the UTF-8 bytes of

    "epd-audit-log/1" + for each of seq, at, actor, reason, table_name, operation, row_key, before,
    after, prev_hash: "\\n" + ("-" if null, else <UTF-8 byte length> + ":" + value)

with seq in decimal, at as YYYY-MM-DDTHH:MM:SS.ffffffZ in UTC, the jsonb values as PostgreSQL's
jsonb text output (`::text`: deterministic for a stored jsonb value) and prev_hash as lowercase hex.
audit_log_canonical() builds it here; epd_footprint.domain.audit_chain builds the same bytes in
Python from `row_key::text, before::text, after::text`, and `epd audit log --verify` checks every
row's hash, every link, that no seq is missing and that the last row is the head.

Linear and cheap: the rows are written by DEFERRABLE INITIALLY DEFERRED constraint triggers, so at
commit, when the writing transaction holds every row lock it will take; each locks the one row of
audit_log_head (FOR UPDATE: concurrent writers queue at commit, never deadlock over it; under
REPEATABLE READ a concurrent head change is a serialization failure, never a fork), appends and
moves the head.

Append-only: INSERT, UPDATE and DELETE on audit_log and audit_log_head are refused unless they come
from the audit trigger itself, TRUNCATE always; nothing is granted to PUBLIC. A superuser can still
disable triggers (session_replication_role = replica): that is what `--verify` catches. Rewriting
the whole chain from a changed row to the head goes undetected unless the head is kept elsewhere
(`epd audit log --verify` prints it).

Downgrade drops the log and its triggers (export it first: `epd audit log --json`).

Revision ID: 0011_audit_log
Revises: 0010_audit
"""

from sql import script

revision = "0011_audit_log"
down_revision = "0010_audit"
branch_labels = None
depends_on = None

#: table -> (primary key columns, secret columns logged as their SHA-256)
AUDITED: dict[str, tuple[str, str]] = {
    "organisations": ("organisation_id", ""),
    "plants": ("plant_id", ""),
    "plant_keys": ("plant_id,key_id", ""),
    "processes": ("process_id", ""),
    "meters": ("meter_id", ""),
    "products": ("product_id", ""),
    "pcrs": ("pcr_id,version", ""),
    "factor_sets": ("version", ""),
    "footprint_product_systems": ("system_id,version", ""),
    "footprint_policies": ("scope,scope_id", ""),
    "epd_series": ("series_id", ""),
    "epd_versions": ("pf_id", ""),
    "partners": ("partner_id", ""),
    "partner_endpoints": ("endpoint_id", "secret_sealed,client_secret_sealed"),
    "gateway_clients": ("client_id", "secret_hash"),
    "gateway_signing_keys": ("kid", ""),
}


def upgrade() -> None:
    triggers = "\n".join(
        f"""CREATE CONSTRAINT TRIGGER {table}_audit_log AFTER INSERT OR UPDATE OR DELETE ON {table}
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_log_record('{keys}', '{secret}');"""
        for table, (keys, secret) in AUDITED.items()
    )
    script(f"""
        CREATE TABLE audit_log (
            seq        bigint PRIMARY KEY CHECK (seq >= 1),
            at         timestamptz NOT NULL,
            actor      text NOT NULL,
            reason     text,
            table_name text NOT NULL,
            operation  text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
            row_key    jsonb NOT NULL,
            before     jsonb,
            after      jsonb,
            prev_hash  bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
            row_hash   bytea NOT NULL CHECK (octet_length(row_hash) = 32)
        );
        CREATE INDEX audit_log_by_time ON audit_log (at);

        CREATE TABLE audit_log_head (
            one      boolean PRIMARY KEY DEFAULT true CHECK (one),
            seq      bigint NOT NULL CHECK (seq >= 0),
            row_hash bytea NOT NULL CHECK (octet_length(row_hash) = 32)
        );
        INSERT INTO audit_log_head (seq, row_hash) VALUES (0, decode(repeat('00', 32), 'hex'));
        REVOKE ALL ON audit_log, audit_log_head FROM PUBLIC;

        CREATE FUNCTION audit_log_field(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
            SELECT E'\\n' || CASE WHEN value IS NULL THEN '-' ELSE octet_length(value) || ':' || value END
        $$;

        CREATE FUNCTION audit_log_canonical(
            seq bigint, at timestamptz, actor text, reason text, table_name text, operation text,
            row_key jsonb, before jsonb, after jsonb, prev_hash bytea
        ) RETURNS text LANGUAGE sql STABLE AS $$
            SELECT 'epd-audit-log/1'
                || audit_log_field(seq::text)
                || audit_log_field(to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
                || audit_log_field(actor) || audit_log_field(reason)
                || audit_log_field(table_name) || audit_log_field(operation)
                || audit_log_field(row_key::text) || audit_log_field(before::text) || audit_log_field(after::text)
                || audit_log_field(encode(prev_hash, 'hex'))
        $$;

        CREATE FUNCTION audit_log_hide(r jsonb, secret text[]) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
        DECLARE col text;
        BEGIN
            IF r IS NULL THEN RETURN NULL; END IF;
            FOREACH col IN ARRAY secret LOOP
                IF r ->> col IS NOT NULL THEN
                    r := jsonb_set(r, ARRAY[col],
                                   to_jsonb('sha256:' || encode(sha256(convert_to(r ->> col, 'UTF8')), 'hex')));
                END IF;
            END LOOP;
            RETURN r;
        END $$;

        CREATE FUNCTION audit_log_record() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
            SET search_path = pg_catalog, public AS $$
        DECLARE
            keys   text[] := string_to_array(TG_ARGV[0], ',');
            secret text[] := coalesce(string_to_array(nullif(TG_ARGV[1], ''), ','), '{{}}');
            old_row jsonb;
            new_row jsonb;
            row_key jsonb := '{{}}';
            col    text;
            head   record;
            e      audit_log%ROWTYPE;
        BEGIN
            IF TG_OP <> 'INSERT' THEN old_row := audit_log_hide(to_jsonb(OLD), secret); END IF;
            IF TG_OP <> 'DELETE' THEN new_row := audit_log_hide(to_jsonb(NEW), secret); END IF;
            IF TG_OP = 'UPDATE' AND old_row = new_row THEN
                RETURN NULL;
            END IF;
            FOREACH col IN ARRAY keys LOOP
                row_key := row_key || jsonb_build_object(col, coalesce(new_row, old_row) -> col);
            END LOOP;
            SELECT h.seq, h.row_hash INTO head FROM audit_log_head h WHERE h.one FOR UPDATE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'audit_log_head has no row: the audit log cannot be continued';
            END IF;
            e.seq := head.seq + 1;
            e.at := clock_timestamp();
            e.actor := coalesce(nullif(current_setting('epd.actor', true), ''), session_user);
            e.reason := nullif(current_setting('epd.reason', true), '');
            e.table_name := TG_TABLE_NAME;
            e.operation := TG_OP;
            e.row_key := row_key;
            e.before := old_row;
            e.after := new_row;
            e.prev_hash := head.row_hash;
            e.row_hash := sha256(convert_to(audit_log_canonical(
                e.seq, e.at, e.actor, e.reason, e.table_name, e.operation, e.row_key, e.before, e.after, e.prev_hash
            ), 'UTF8'));
            INSERT INTO audit_log VALUES (e.*);
            UPDATE audit_log_head SET seq = e.seq, row_hash = e.row_hash WHERE one;
            RETURN NULL;
        END $$;

        -- Only the audit trigger writes (it runs one trigger level down); the rest is refused.
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'TRUNCATE' OR pg_trigger_depth() < 2 THEN
                RAISE EXCEPTION 'the audit log is append-only (% on %)', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
        END $$;
        CREATE TRIGGER audit_log_append_only BEFORE INSERT OR UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
        CREATE TRIGGER audit_log_head_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_log_head
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        CREATE TRIGGER audit_log_head_no_truncate BEFORE TRUNCATE ON audit_log_head
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

        {triggers}
    """)


def downgrade() -> None:
    drops = "\n".join(f"DROP TRIGGER {table}_audit_log ON {table};" for table in AUDITED)
    script(f"""
        {drops}
        DROP TABLE audit_log, audit_log_head;
        DROP FUNCTION audit_log_record(), audit_log_append_only(), audit_log_hide(jsonb, text[]),
                      audit_log_canonical(bigint, timestamptz, text, text, text, text, jsonb, jsonb, jsonb, bytea),
                      audit_log_field(text);
    """)
