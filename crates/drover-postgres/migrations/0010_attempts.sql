-- Attempt history (TaskInfo::attempts): the failed attempts of a task, newest last, bounded
-- to drover_core::ATTEMPT_HISTORY_LIMIT (20) by push_attempt; NULL is an empty history.
-- Appended only by failing outcomes (complete.sql kinds 1 and 2) and expired leases (the
-- claims), so a successful completion writes nothing more. started_at is the current
-- attempt's claim time, set by the claim's own UPDATE. Both columns are added without a
-- default: no table rewrite.
ALTER TABLE drover.tasks ADD COLUMN attempts jsonb, ADD COLUMN started_at timestamptz;

-- history with attempt n (started, finished, error; a NULL error is an expired lease) appended,
-- its oldest dropped beyond 20. Each entry is {"n", "s", "f", "e"}, times in epoch ms, the
-- form drover_core::AttemptRecord::decode_history reads.
CREATE FUNCTION drover.push_attempt(history jsonb, n integer, started timestamptz, finished timestamptz, error text)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN jsonb_array_length(h) >= 20 THEN h - 0 ELSE h END)
        || jsonb_build_array(jsonb_build_object(
            'n', n,
            's', floor(extract(epoch FROM started) * 1000)::int8,
            'f', floor(extract(epoch FROM finished) * 1000)::int8,
            'e', error))
    FROM (SELECT COALESCE(history, '[]'::jsonb) AS h) AS x
$$;
