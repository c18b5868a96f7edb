-- The candidates of a claim on a queue with a per-key limit ($3), run under the settings
-- row's lock: due pending tasks (tasks_pending_claim_idx, in claim order) and running tasks
-- whose lease expired (tasks_running_lease_idx), at most $2 of each, then the first $2 in
-- claim order. A keyed task is a candidate only while fewer than $3 tasks of its key pushed
-- before it (lower id) are unfinished; each count stops at $3 rows of
-- tasks_concurrency_key_idx. The claim (backend.rs) then takes at most $3 minus each key's
-- live leases (the rows after the candidates). `bury`: an expired lease on the last attempt, made
-- dead instead of run again.
WITH due AS (
    SELECT t.id, t.concurrency_key, t.priority, t.run_at, false AS bury
    FROM drover.tasks AS t
    WHERE t.queue = $1 AND t.status = 'pending' AND t.run_at <= now()
      AND (t.concurrency_key IS NULL OR (
          SELECT count(*) FROM (
              SELECT 1 FROM drover.tasks AS u
              WHERE u.queue = $1 AND u.concurrency_key = t.concurrency_key
                AND u.status IN ('pending', 'running') AND u.id < t.id
              LIMIT $3
          ) AS earlier
      ) < $3)
    ORDER BY t.priority DESC, t.run_at, t.id
    LIMIT $2
    FOR UPDATE OF t SKIP LOCKED
),
expired AS (
    SELECT t.id, t.concurrency_key, t.priority, t.run_at, t.attempt >= t.max_attempts AS bury
    FROM drover.tasks AS t
    WHERE t.queue = $1 AND t.status = 'running' AND t.lease_expires_at <= now()
      AND (t.concurrency_key IS NULL OR (
          SELECT count(*) FROM (
              SELECT 1 FROM drover.tasks AS u
              WHERE u.queue = $1 AND u.concurrency_key = t.concurrency_key
                AND u.status IN ('pending', 'running') AND u.id < t.id
              LIMIT $3
          ) AS earlier
      ) < $3)
    ORDER BY t.lease_expires_at
    LIMIT $2
    FOR UPDATE OF t SKIP LOCKED
),
picked AS (
    SELECT * FROM (SELECT * FROM due UNION ALL SELECT * FROM expired) AS candidates
    ORDER BY priority DESC, run_at, id
    LIMIT $2
)
-- The candidates (`n`: their place in claim order), then one row per key with live leases
-- (id NULL, `n`: its lease count): one pass over the queue's live leases (tasks_running_lease_idx), where a
-- per-candidate count or a join with the candidates is planned as a nested loop on stale
-- statistics (measured at 40 ms a claim).
SELECT p.id, p.concurrency_key, p.bury, row_number() OVER (ORDER BY p.priority DESC, p.run_at, p.id) AS n
FROM picked AS p
UNION ALL
SELECT NULL, u.concurrency_key, false, count(*)
FROM drover.tasks AS u
WHERE u.queue = $1 AND u.status = 'running' AND u.lease_expires_at > now() AND u.concurrency_key IS NOT NULL
GROUP BY u.concurrency_key
