-- The workers holding claims on queue $1, from the running tasks (tasks_running_lease_idx).
SELECT worker, count(*)::int8 AS running, max(updated_at) AS last_claim, max(lease_expires_at) AS lease_until
FROM drover.tasks
WHERE queue = $1 AND status = 'running'
GROUP BY worker
ORDER BY worker
