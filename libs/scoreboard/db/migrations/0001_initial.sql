-- The source of truth (DESIGN section 3).

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    display_name  text NOT NULL,
    is_public     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE scores (
    board_id    text NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id),
    score       bigint NOT NULL CHECK (score >= 0),
    reached_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (board_id, user_id)
);

-- The DB read fallback walks this index in ranking order.
CREATE INDEX scores_ranking_idx ON scores (board_id, score DESC, reached_at ASC, user_id ASC);
-- The reconciler pages through what changed since its watermark, in this order.
CREATE INDEX scores_changes_idx ON scores (updated_at, board_id, user_id);

CREATE TABLE score_events (
    id            bigserial PRIMARY KEY,
    board_id      text NOT NULL,
    user_id       uuid NOT NULL REFERENCES users (id),
    action_id     uuid NOT NULL,
    action_type   text NOT NULL,
    delta         integer NOT NULL CHECK (delta >= 1),
    score_after   bigint,
    request_hash  text NOT NULL,
    source        text NOT NULL,
    ip            inet,
    user_agent    text,
    device_id     text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, action_id)
);

-- One increment, one round trip, one transaction: record the event (idempotency), and only if
-- it is new, add its delta to the score and remember the score it produced. A duplicate returns
-- the stored row so the caller can replay the first answer (or report a payload conflict).
CREATE FUNCTION scoreboard_apply_increment(
    p_board_id text, p_user_id uuid, p_display_name text, p_action_id uuid, p_action_type text,
    p_delta integer, p_request_hash text, p_source text, p_ip inet, p_user_agent text,
    p_device_id text
) RETURNS TABLE (
    event_id bigint, score_after bigint, reached_at timestamptz, request_hash text, inserted boolean,
    is_public boolean
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_event_id bigint;
    v_score bigint;
    v_reached timestamptz;
BEGIN
    INSERT INTO users AS u (id, display_name) VALUES (p_user_id, p_display_name)
    ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name
    WHERE u.display_name IS DISTINCT FROM EXCLUDED.display_name;

    INSERT INTO score_events (board_id, user_id, action_id, action_type, delta, request_hash,
                              source, ip, user_agent, device_id)
    VALUES (p_board_id, p_user_id, p_action_id, p_action_type, p_delta, p_request_hash,
            p_source, p_ip, p_user_agent, p_device_id)
    ON CONFLICT (user_id, action_id) DO NOTHING
    RETURNING id INTO v_event_id;

    IF v_event_id IS NULL THEN
        RETURN QUERY
            SELECT e.id, e.score_after, s.reached_at, e.request_hash, false, u.is_public
            FROM score_events e
            JOIN users u ON u.id = e.user_id
            LEFT JOIN scores s ON s.board_id = e.board_id AND s.user_id = e.user_id
            WHERE e.user_id = p_user_id AND e.action_id = p_action_id;
        RETURN;
    END IF;

    INSERT INTO scores AS s (board_id, user_id, score, reached_at, updated_at)
    VALUES (p_board_id, p_user_id, p_delta, clock_timestamp(), clock_timestamp())
    ON CONFLICT (board_id, user_id) DO UPDATE
        SET score = s.score + EXCLUDED.score,
            reached_at = clock_timestamp(),
            updated_at = clock_timestamp()
    RETURNING s.score, s.reached_at INTO v_score, v_reached;

    UPDATE score_events SET score_after = v_score WHERE id = v_event_id;

    RETURN QUERY SELECT v_event_id, v_score, v_reached, p_request_hash, true,
        (SELECT u.is_public FROM users u WHERE u.id = p_user_id);
END;
$$;
