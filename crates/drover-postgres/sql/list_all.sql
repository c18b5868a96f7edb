-- A page of every status, newest first: one bounded scan per status (finished ones read
-- tasks_finished_idx backwards; pending and running sort their partial index's rows),
-- merged. ($3 = offset + limit.)
SELECT id, queue, payload, status, attempt, max_attempts, run_at, priority, unique_key, concurrency_key, last_error,
       created_at, updated_at, lease_expires_at, started_at
FROM (
    (SELECT * FROM drover.tasks WHERE queue = $1 AND status = 'pending' ORDER BY id DESC LIMIT $3)
    UNION ALL
    (SELECT * FROM drover.tasks WHERE queue = $1 AND status = 'running' ORDER BY id DESC LIMIT $3)
    UNION ALL
    (SELECT * FROM drover.tasks WHERE queue = $1 AND status = 'done' ORDER BY id DESC LIMIT $3)
    UNION ALL
    (SELECT * FROM drover.tasks WHERE queue = $1 AND status = 'dead' ORDER BY id DESC LIMIT $3)
    UNION ALL
    (SELECT * FROM drover.tasks WHERE queue = $1 AND status = 'cancelled' ORDER BY id DESC LIMIT $3)
) AS page
ORDER BY id DESC
LIMIT $2 OFFSET $4
