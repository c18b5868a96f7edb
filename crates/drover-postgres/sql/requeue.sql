-- Make a dead or cancelled task pending again, due now, attempts reset; not when another live
-- task holds its unique key (that would make two).
WITH requeued AS (
    UPDATE drover.tasks AS t
    SET status = 'pending', attempt = 0, run_at = now(), lease_token = NULL, lease_expires_at = NULL,
        updated_at = now()
    WHERE t.id = $1 AND t.queue = $2 AND t.status IN ('dead', 'cancelled')
      AND NOT EXISTS (
          SELECT 1 FROM drover.tasks AS o
          WHERE t.unique_key IS NOT NULL AND o.queue = t.queue AND o.unique_key = t.unique_key
            AND o.status IN ('pending', 'running') AND o.id <> t.id
      )
    RETURNING t.id
)
SELECT count(*)::int8 AS n, (SELECT pg_notify('drover_tasks', $2) FROM requeued LIMIT 1)::text AS notified
FROM requeued
