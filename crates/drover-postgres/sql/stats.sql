-- Counts by status (an index-only scan of tasks_queue_status_id_idx) and the pending tasks
-- not due yet (tasks_pending_claim_idx).
SELECT status, count(*)::int8 AS n
FROM drover.tasks
WHERE queue = $1
GROUP BY status
UNION ALL
SELECT 'scheduled', count(*)::int8
FROM drover.tasks
WHERE queue = $1 AND status = 'pending' AND run_at > now()
