-- Several boards, each all-time or in recurring windows (DESIGN section 10). A score is kept per
-- (board, window, user); today's rows are the all-time `global` board's. One increment is still
-- one score_events row (the idempotency record); it now remembers what it did on each board.

ALTER TABLE scores ADD COLUMN window_id text NOT NULL DEFAULT 'all';
ALTER TABLE scores DROP CONSTRAINT scores_pkey;
ALTER TABLE scores ADD PRIMARY KEY (board_id, window_id, user_id);
DROP INDEX scores_ranking_idx;
CREATE INDEX scores_ranking_idx ON scores (board_id, window_id, score DESC, reached_at ASC, user_id ASC);
DROP INDEX scores_changes_idx;
CREATE INDEX scores_changes_idx ON scores (updated_at, board_id, window_id, user_id);

-- {"<board>": {"window": "<id>", "score": <score after>}} for every board the increment counted on.
ALTER TABLE score_events ADD COLUMN boards jsonb;

-- The window an instant falls in, by a board's rule; the same arithmetic as
-- libs/scoreboard/domain/windows.py (a test compares them across time zones and DST changes).
CREATE FUNCTION scoreboard_window_id(
    p_kind text, p_tz text, p_seconds integer, p_anchor timestamptz, p_at timestamptz
) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE p_kind
        WHEN 'all' THEN 'all'
        WHEN 'day' THEN to_char((p_at AT TIME ZONE p_tz)::date, 'YYYY-MM-DD')
        WHEN 'week' THEN to_char((p_at AT TIME ZONE p_tz)::date, 'IYYY-"W"IW')
        WHEN 'month' THEN to_char((p_at AT TIME ZONE p_tz)::date, 'YYYY-MM')
        WHEN 'seconds' THEN to_char(
            to_timestamp(extract(epoch FROM p_anchor)
                + floor((extract(epoch FROM p_at) - extract(epoch FROM p_anchor)) / p_seconds) * p_seconds)
                AT TIME ZONE 'UTC',
            'YYYYMMDD"T"HH24MISS"Z"')
    END
$$;

-- One increment on every board that counts its type, in each board's current window at this
-- instant (the database's clock), in one transaction. p_boards: [{"id", "kind", "tz",
-- "seconds", "anchor", "types": [...] | null}], the first board counting the type being the
-- increment's main one (its score is score_after). A duplicate returns the stored outcome.
CREATE FUNCTION scoreboard_count_increment(
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
        INSERT INTO scores AS s (board_id, window_id, user_id, score, reached_at, updated_at)
        VALUES (v_board.id, v_window, p_user_id, p_delta, v_now, v_now)
        ON CONFLICT (board_id, window_id, user_id) DO UPDATE
            SET score = s.score + EXCLUDED.score, reached_at = v_now, updated_at = v_now
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

-- Group commit (docs/decisions/0005): many increments in one transaction, each answered as if
-- alone; users locked in one global order, so concurrent batches cannot deadlock.
CREATE FUNCTION scoreboard_count_increments(
    p_boards jsonb, p_user_id uuid[], p_display_name text[], p_action_id uuid[], p_action_type text[],
    p_delta integer[], p_request_hash text[], p_source text[], p_ip inet[], p_user_agent text[],
    p_device_id text[]
) RETURNS TABLE (
    ordinal integer, event_id bigint, score_after bigint, reached_at timestamptz, request_hash text,
    inserted boolean, is_public boolean, boards jsonb
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    i integer;
    r record;
BEGIN
    FOR i IN
        SELECT o FROM generate_subscripts(p_user_id, 1) AS o ORDER BY p_user_id[o], o
    LOOP
        SELECT * INTO r FROM scoreboard_count_increment(
            p_boards, p_user_id[i], p_display_name[i], p_action_id[i], p_action_type[i], p_delta[i],
            p_request_hash[i], p_source[i], p_ip[i], p_user_agent[i], p_device_id[i]);
        ordinal := i;
        event_id := r.event_id;
        score_after := r.score_after;
        reached_at := r.reached_at;
        request_hash := r.request_hash;
        inserted := r.inserted;
        is_public := r.is_public;
        boards := r.boards;
        RETURN NEXT;
    END LOOP;
END;
$$;

-- API processes of the previous release keep counting on the all-time `global` board while a
-- rolling deploy replaces them: their functions now go through the new one.
CREATE OR REPLACE FUNCTION scoreboard_apply_increment(
    p_board_id text, p_user_id uuid, p_display_name text, p_action_id uuid, p_action_type text,
    p_delta integer, p_request_hash text, p_source text, p_ip inet, p_user_agent text,
    p_device_id text
) RETURNS TABLE (
    event_id bigint, score_after bigint, reached_at timestamptz, request_hash text, inserted boolean,
    is_public boolean
) LANGUAGE sql AS $$
    SELECT c.event_id, c.score_after, c.reached_at, c.request_hash, c.inserted, c.is_public
    FROM scoreboard_count_increment(
        jsonb_build_array(jsonb_build_object('id', p_board_id, 'kind', 'all')), p_user_id,
        p_display_name, p_action_id, p_action_type, p_delta, p_request_hash, p_source, p_ip,
        p_user_agent, p_device_id) AS c
$$;
