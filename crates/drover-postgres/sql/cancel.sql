-- Cancel a pending or running task; a running task's claim is revoked with its token, so the
-- worker's completion will be ignored.
UPDATE drover.tasks
SET status = 'cancelled', lease_token = NULL, lease_expires_at = NULL, updated_at = now()
WHERE id = $1 AND queue = $2 AND status IN ('pending', 'running')
