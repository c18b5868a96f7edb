-- Claim the tasks $1 picked from keyed_candidates.sql (locked by it, in this transaction)
-- for worker $3 with a lease of $2 microseconds, and make the tasks $4 dead with the error
-- $5 (expired leases on their last attempt).
WITH buried AS (
    UPDATE drover.tasks
    SET status = 'dead', last_error = $5, lease_token = NULL, lease_expires_at = NULL, updated_at = now(),
        attempts = drover.push_attempt(attempts, attempt, started_at, lease_expires_at, $5)
    WHERE id = ANY($4)
)
UPDATE drover.tasks AS t
SET status = 'running',
    attempt = t.attempt + 1,
    lease_token = nextval('drover.lease_token_seq'),
    lease_expires_at = now() + $2 * interval '1 microsecond',
    worker = $3,
    updated_at = now(),
    started_at = now(),
    -- A task taken over from an expired lease: its lost attempt joins the history, ended when its
    -- lease ran out (no error: an expired lease, drover_core::LEASE_EXPIRED).
    attempts = CASE WHEN t.status = 'running' THEN drover.push_attempt(t.attempts, t.attempt, t.started_at, t.lease_expires_at, NULL)
                    ELSE t.attempts END
WHERE t.id = ANY($1)
RETURNING t.id, t.lease_token, t.attempt, t.max_attempts, t.payload, t.priority, t.run_at
