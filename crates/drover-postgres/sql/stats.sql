-- Counts by status, each from its partial index: pending (tasks_pending_claim_idx, which
-- also gives the pending tasks not due yet), running (tasks_running_lease_idx) and finished
-- (tasks_finished_idx).
SELECT 'pending' AS status, count(*)::int8 AS n
FROM drover.tasks
WHERE queue = $1 AND status = 'pending'
UNION ALL
SELECT 'running', count(*)::int8
FROM drover.tasks
WHERE queue = $1 AND status = 'running'
UNION ALL
(SELECT status, count(*)::int8
 FROM drover.tasks
 WHERE queue = $1 AND status IN ('done', 'dead', 'cancelled')
 GROUP BY status)
UNION ALL
SELECT 'scheduled', count(*)::int8
FROM drover.tasks
WHERE queue = $1 AND status = 'pending' AND run_at > now()
