-- One task by id (primary key).
SELECT id, queue, payload, status, attempt, max_attempts, run_at, priority, unique_key, concurrency_key, last_error,
       created_at, updated_at, lease_expires_at, started_at, attempts::text AS attempts
FROM drover.tasks
WHERE id = $1 AND queue = $2
