-- A page of one status, newest first (finished: tasks_finished_idx read backwards; pending and
-- running: that status's partial index, its rows sorted).
SELECT id, queue, payload, status, attempt, max_attempts, run_at, priority, unique_key, concurrency_key, last_error,
       created_at, updated_at, lease_expires_at, started_at
FROM drover.tasks
WHERE queue = $1 AND status = $2
ORDER BY id DESC
LIMIT $3 OFFSET $4
