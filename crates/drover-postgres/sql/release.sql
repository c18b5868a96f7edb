-- Hand back claims that never started: pending and due, the attempt not counted.
-- The status test is written to stay off the partial index: see complete.sql.
WITH released AS (
    UPDATE drover.tasks AS t
    SET status = 'pending',
        attempt = greatest(t.attempt - 1, 0),
        run_at = least(t.run_at, now()),
        lease_token = NULL,
        lease_expires_at = NULL,
        updated_at = now()
    FROM unnest($1::uuid[], $2::int8[]) AS l(id, token)
    WHERE t.id = l.id AND t.lease_token = l.token AND (t.status || '') = 'running'
    RETURNING 1
)
SELECT pg_notify('drover_tasks', $3)::text FROM (SELECT 1 FROM released LIMIT 1) AS any_released
