-- Group commit: many increments in one transaction, one commit (see docs/decisions/0005).
-- Items are applied by user id, then in arrival order. Each item first locks its user's row
-- (the upsert in scoreboard_apply_increment locks it even when nothing changes), so concurrent
-- batches take their locks in one global order and cannot deadlock, and one user's increments
-- keep their arrival order. Each item gets exactly the answer it would have got alone.
CREATE FUNCTION scoreboard_apply_increments(
    p_board_id text[], p_user_id uuid[], p_display_name text[], p_action_id uuid[], p_action_type text[],
    p_delta integer[], p_request_hash text[], p_source text[], p_ip inet[], p_user_agent text[],
    p_device_id text[]
) RETURNS TABLE (
    ordinal integer, event_id bigint, score_after bigint, reached_at timestamptz, request_hash text,
    inserted boolean, is_public boolean
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    i integer;
    r record;
BEGIN
    FOR i IN
        SELECT o FROM generate_subscripts(p_user_id, 1) AS o ORDER BY p_user_id[o], o
    LOOP
        SELECT * INTO r FROM scoreboard_apply_increment(
            p_board_id[i], p_user_id[i], p_display_name[i], p_action_id[i], p_action_type[i], p_delta[i],
            p_request_hash[i], p_source[i], p_ip[i], p_user_agent[i], p_device_id[i]);
        ordinal := i;
        event_id := r.event_id;
        score_after := r.score_after;
        reached_at := r.reached_at;
        request_hash := r.request_hash;
        inserted := r.inserted;
        is_public := r.is_public;
        RETURN NEXT;
    END LOOP;
END;
$$;
