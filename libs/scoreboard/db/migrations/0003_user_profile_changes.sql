-- Profile changes (a new name, a privacy choice) reach Redis through a change feed on users,
-- whoever made them: the API, the increment's upsert, or an operator's UPDATE (DESIGN section 4).

ALTER TABLE users ADD COLUMN updated_at timestamptz;
UPDATE users SET updated_at = created_at;
ALTER TABLE users ALTER COLUMN updated_at SET NOT NULL;
ALTER TABLE users ALTER COLUMN updated_at SET DEFAULT clock_timestamp();

CREATE INDEX users_changes_idx ON users (updated_at, id);

CREATE FUNCTION scoreboard_touch_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.display_name IS DISTINCT FROM OLD.display_name OR NEW.is_public IS DISTINCT FROM OLD.is_public THEN
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION scoreboard_touch_user();
