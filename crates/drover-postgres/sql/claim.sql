-- Claim up to $2 tasks of queue $1 for worker $4 with a lease of $3 microseconds, in one
-- statement. Two index-ordered scans feed it: due pending tasks (tasks_pending_claim_idx, in
-- claim order) and running tasks whose lease expired (tasks_running_lease_idx). SKIP LOCKED
-- makes concurrent claims take disjoint tasks. An expired task on its last attempt is made
-- dead ($5 is the error) instead of being run again. A paused queue (drover.queue_settings)
-- claims nothing: its one-row probe is evaluated once per statement. Nor does a limited queue
-- (max_running, rate_starts, max_per_key) in this form: its claims take the locked path (backend.rs),
-- which counts the live leases and the rate's grant under the settings row's lock and runs
-- this statement with the marker below removed. A queue with only a per-key limit claims
-- with the KEYED form instead (backend.rs): the same statement, concurrent like the plain one,
-- taking a keyed task only while its key allows it. During a long drain the storage claims
-- with the HINTED form between full claims (backend.rs, "Claim hints"): the due scan starts at
-- the position its last full batch started from (/*HINT*/), and the expired-lease scan is left
-- out (/*EXPIRED*/), so neither walks the index entries the drain has already left behind.
WITH expired AS (
    SELECT id, priority, run_at, attempt, max_attempts
    FROM drover.tasks
    WHERE queue = $1 AND status = 'running' AND lease_expires_at <= now() /*EXPIRED*/
      AND NOT EXISTS (SELECT 1 FROM drover.queue_settings WHERE queue = $1 AND (paused /*CAPPED*/)) /*KEYED*/
    ORDER BY lease_expires_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
),
buried AS (
    UPDATE drover.tasks AS t
    SET status = 'dead', last_error = $5, lease_token = NULL, lease_expires_at = NULL, updated_at = now(),
        attempts = drover.push_attempt(t.attempts, t.attempt, t.started_at, t.lease_expires_at, $5)
    FROM expired AS e
    WHERE t.id = e.id AND e.attempt >= e.max_attempts
),
due AS (
    SELECT id, priority, run_at
    FROM drover.tasks
    WHERE queue = $1 AND status = 'pending' AND run_at <= now() /*HINT*/
      AND NOT EXISTS (SELECT 1 FROM drover.queue_settings WHERE queue = $1 AND (paused /*CAPPED*/)) /*KEYED*/
    ORDER BY priority DESC, run_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
),
picked AS (
    SELECT id FROM (
        SELECT id, priority, run_at FROM due
        UNION ALL
        SELECT id, priority, run_at FROM expired WHERE attempt < max_attempts
    ) AS candidates
    ORDER BY priority DESC, run_at, id
    LIMIT $2
)
UPDATE drover.tasks AS t
SET status = 'running',
    attempt = t.attempt + 1,
    lease_token = nextval('drover.lease_token_seq'),
    lease_expires_at = now() + $3 * interval '1 microsecond',
    worker = $4,
    updated_at = now(),
    started_at = now(),
    -- A task taken over from an expired lease: its lost attempt joins the history, ended when its
    -- lease ran out (no error: an expired lease, drover_core::LEASE_EXPIRED).
    attempts = CASE WHEN t.status = 'running' THEN drover.push_attempt(t.attempts, t.attempt, t.started_at, t.lease_expires_at, NULL)
                    ELSE t.attempts END
FROM picked
WHERE t.id = picked.id /*COMMIT_MODE*/
RETURNING t.id, t.lease_token, t.attempt, t.max_attempts, t.payload, t.priority, t.run_at
