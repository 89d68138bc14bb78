-- Moderation (DESIGN section 11): score adjustments under a two-person rule, users hidden from the
-- public rankings (banned by an admin, or quarantined by the anomaly detector) and the reviews
-- the detector opens. See docs/decisions/0009-hidden-users-leave-the-rankings.md.

-- A version for every score: the id of the event that last changed it. An adjustment may lower a
-- score, so "newer" can no longer mean "higher" when Redis applies a copy. Event ids of one user
-- grow in commit order (every writer locks the user's row before it takes an id), so a late copy
-- from before an adjustment is recognised as older and refused. Rows written before this
-- migration have none: version 0, compared by score as before.
ALTER TABLE scores ADD COLUMN event_id bigint;

-- Adjustment events may lower a score (or change nothing, at 0). Existing rows all hold
-- delta >= 1, so the looser check needs no scan of the table (NOT VALID).
ALTER TABLE score_events DROP CONSTRAINT score_events_delta_check;
ALTER TABLE score_events ADD CONSTRAINT score_events_delta_check
    CHECK (delta >= 1 OR (source = 'admin' AND action_type = 'adjustment')) NOT VALID;

-- As in 0004, and each score row now records the event that made it (scores.event_id).
CREATE OR REPLACE FUNCTION scoreboard_count_increment(
    p_boards jsonb, p_user_id uuid, p_display_name text, p_action_id uuid, p_action_type text,
    p_delta integer, p_request_hash text, p_source text, p_ip inet, p_user_agent text,
    p_device_id text
) RETURNS TABLE (
    event_id bigint, score_after bigint, reached_at timestamptz, request_hash text, inserted boolean,
    is_public boolean, boards jsonb
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := clock_timestamp();
    v_event_id bigint;
    v_board record;
    v_window text;
    v_score bigint;
    v_main_score bigint;
    v_main_board text;
    v_boards jsonb := '{}'::jsonb;
BEGIN
    INSERT INTO users AS u (id, display_name) VALUES (p_user_id, p_display_name)
    ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name
    WHERE u.display_name IS DISTINCT FROM EXCLUDED.display_name;

    FOR v_board IN
        SELECT b.id FROM jsonb_to_recordset(p_boards) AS b(id text, types text[])
        WHERE b.types IS NULL OR p_action_type = ANY (b.types) LIMIT 1
    LOOP
        v_main_board := v_board.id;
    END LOOP;

    INSERT INTO score_events (board_id, user_id, action_id, action_type, delta, request_hash,
                              source, ip, user_agent, device_id, created_at)
    VALUES (coalesce(v_main_board, ''), p_user_id, p_action_id, p_action_type, p_delta,
            p_request_hash, p_source, p_ip, p_user_agent, p_device_id, v_now)
    ON CONFLICT (user_id, action_id) DO NOTHING
    RETURNING id INTO v_event_id;

    IF v_event_id IS NULL THEN
        RETURN QUERY
            SELECT e.id, e.score_after, e.created_at, e.request_hash, false, u.is_public,
                   coalesce(e.boards, jsonb_build_object(e.board_id,
                       jsonb_build_object('window', 'all', 'score', e.score_after)))
            FROM score_events e JOIN users u ON u.id = e.user_id
            WHERE e.user_id = p_user_id AND e.action_id = p_action_id;
        RETURN;
    END IF;

    FOR v_board IN
        SELECT * FROM jsonb_to_recordset(p_boards)
            AS b(id text, kind text, tz text, seconds integer, anchor timestamptz, types text[])
        WHERE b.types IS NULL OR p_action_type = ANY (b.types)
    LOOP
        v_window := scoreboard_window_id(v_board.kind, v_board.tz, v_board.seconds, v_board.anchor, v_now);
        INSERT INTO scores AS s (board_id, window_id, user_id, score, reached_at, updated_at, event_id)
        VALUES (v_board.id, v_window, p_user_id, p_delta, v_now, v_now, v_event_id)
        ON CONFLICT (board_id, window_id, user_id) DO UPDATE
            SET score = s.score + EXCLUDED.score, reached_at = v_now, updated_at = v_now,
                event_id = v_event_id
        RETURNING s.score INTO v_score;
        v_boards := v_boards || jsonb_build_object(v_board.id,
            jsonb_build_object('window', v_window, 'score', v_score));
        IF v_board.id = v_main_board THEN
            v_main_score := v_score;
        END IF;
    END LOOP;

    UPDATE score_events SET score_after = v_main_score, boards = v_boards WHERE id = v_event_id;

    RETURN QUERY SELECT v_event_id, v_main_score, v_now, p_request_hash, true,
        (SELECT u.is_public FROM users u WHERE u.id = p_user_id), v_boards;
END;
$$;

-- One approved adjustment: one event of source `admin` on exactly the board and window it names,
-- never taking the score below 0. The event records the delta really applied (so scores still
-- equal the sum of their events); an adjustment that changes nothing counts on no board. The
-- user's row is locked first, as every increment does, so the event id orders it with theirs.
CREATE FUNCTION scoreboard_apply_adjustment(
    p_adjustment_id uuid, p_user_id uuid, p_board_id text, p_window_id text, p_delta integer,
    p_ip inet, p_user_agent text
) RETURNS TABLE (event_id bigint, applied_delta integer, score_after bigint, reached_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := clock_timestamp();
    v_before bigint;
    v_after bigint;
    v_event_id bigint;
BEGIN
    PERFORM 1 FROM users u WHERE u.id = p_user_id FOR UPDATE;
    SELECT s.score INTO v_before FROM scores s
    WHERE s.board_id = p_board_id AND s.window_id = p_window_id AND s.user_id = p_user_id;
    v_before := coalesce(v_before, 0);
    v_after := greatest(v_before + p_delta, 0);

    INSERT INTO score_events (board_id, user_id, action_id, action_type, delta, score_after,
                              request_hash, source, ip, user_agent, created_at, boards)
    VALUES (p_board_id, p_user_id, p_adjustment_id, 'adjustment', (v_after - v_before)::integer,
            v_after, 'adjustment', 'admin', p_ip, p_user_agent, v_now,
            CASE WHEN v_after = v_before THEN '{}'::jsonb
                 ELSE jsonb_build_object(p_board_id, jsonb_build_object('window', p_window_id, 'score', v_after))
            END)
    RETURNING id INTO v_event_id;

    IF v_after <> v_before THEN
        INSERT INTO scores AS s (board_id, window_id, user_id, score, reached_at, updated_at, event_id)
        VALUES (p_board_id, p_window_id, p_user_id, v_after, v_now, v_now, v_event_id)
        ON CONFLICT (board_id, window_id, user_id) DO UPDATE
            SET score = EXCLUDED.score, reached_at = v_now, updated_at = v_now, event_id = v_event_id;
    END IF;

    RETURN QUERY SELECT v_event_id, (v_after - v_before)::integer, v_after, v_now;
END;
$$;

CREATE TABLE adjustments (
    id             uuid PRIMARY KEY,
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,  -- listing order and paging
    user_id        uuid NOT NULL REFERENCES users (id),
    board_id       text NOT NULL,
    window_id      text NOT NULL,
    delta          integer NOT NULL CHECK (delta <> 0),
    reason         text NOT NULL CHECK (length(btrim(reason)) > 0 AND length(reason) <= 2000),
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    proposed_by    text NOT NULL,
    proposed_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    reviewed_by    text,
    reviewed_at    timestamptz,
    review_reason  text,
    event_id       bigint REFERENCES score_events (id),
    applied_delta  integer,
    score_after    bigint,
    CHECK ((status = 'pending') = (reviewed_by IS NULL)),
    CHECK ((status = 'approved') = (event_id IS NOT NULL)),
    -- The two-person rule, in the database too: nobody approves their own proposal.
    CHECK (status <> 'approved' OR reviewed_by <> proposed_by)
);
CREATE INDEX adjustments_status_idx ON adjustments (status, seq);

-- Who is hidden from the public rankings, and why. A user with no row is visible. Rows are kept
-- when a user becomes visible again, so that every process's change feed sees that change too.
CREATE TABLE user_moderation (
    user_id       uuid PRIMARY KEY REFERENCES users (id),
    state         text NOT NULL CHECK (state IN ('visible', 'quarantined', 'banned')),
    -- A reviewer cleared this user: the detector does not quarantine them again before this.
    exempt_until  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX user_moderation_changes_idx ON user_moderation (updated_at, user_id);

-- What the anomaly detector opened for a human to decide: clear (visible again) or ban.
CREATE TABLE reviews (
    id            uuid PRIMARY KEY,
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    user_id       uuid NOT NULL REFERENCES users (id),
    rule          text NOT NULL,
    observed      jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cleared', 'banned')),
    opened_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    closed_by     text,
    closed_at     timestamptz,
    close_reason  text,
    CHECK ((status = 'open') = (closed_by IS NULL))
);
CREATE UNIQUE INDEX reviews_one_open_per_user ON reviews (user_id) WHERE status = 'open';
CREATE INDEX reviews_status_idx ON reviews (status, seq);
