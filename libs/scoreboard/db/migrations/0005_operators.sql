-- Operators (DESIGN section 11): an append-only audit log, and the runtime flags.

-- One row per admin action (and, later, per quarantine). The database itself refuses to change
-- or remove a row, whoever asks: the triggers fire for every role, the table's owner and
-- superusers included, and ENABLE ALWAYS keeps them firing under session_replication_role =
-- replica. Only DDL can get past them (dropping the trigger): run the services under a role
-- that does not own this table (docs/operations.md).
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    action      text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    target      text CHECK (length(target) <= 200),
    before      jsonb,
    after       jsonb,
    reason      text NOT NULL CHECK (length(btrim(reason)) > 0 AND length(reason) <= 2000),
    request_id  text CHECK (length(request_id) <= 200)
);

CREATE FUNCTION scoreboard_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION scoreboard_audit_log_append_only();
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;

-- The runtime flags: one row. A NULL limit means "the environment's value". `version` grows
-- with each change, so the Redis mirror the gateway reads can tell newer from older.
CREATE TABLE runtime_flags (
    id                       boolean PRIMARY KEY DEFAULT true CHECK (id),
    increments               boolean NOT NULL DEFAULT true,
    realtime                 boolean NOT NULL DEFAULT true,
    rate_limit_user_per_min  integer CHECK (rate_limit_user_per_min BETWEEN 1 AND 1000000000),
    rate_limit_ip_per_min    integer CHECK (rate_limit_ip_per_min BETWEEN 1 AND 1000000000),
    version                  bigint NOT NULL DEFAULT 1,
    updated_at               timestamptz NOT NULL DEFAULT clock_timestamp()
);

INSERT INTO runtime_flags DEFAULT VALUES;
