-- The candidates of a claim on a queue with a per-key limit ($3), run under the settings
-- row's lock: due pending tasks and running tasks whose lease expired, in claim order, at
-- most $2. A keyed task is a candidate only while fewer than $3 tasks of its key pushed
-- before it (lower id) are unfinished; each subquery stops at $3 rows of
-- tasks_concurrency_key_idx. `running` is the key's live leases, so the claim (backend.rs)
-- takes at most $3 minus that per key. `bury`: an expired lease on the last attempt, made
-- dead instead of run again.
SELECT t.id, t.concurrency_key,
       t.status = 'running' AND t.attempt >= t.max_attempts AS bury,
       CASE WHEN t.concurrency_key IS NULL THEN 0 ELSE (
           SELECT count(*) FROM (
               SELECT 1 FROM drover.tasks AS u
               WHERE u.queue = $1 AND u.concurrency_key = t.concurrency_key
                 AND u.status = 'running' AND u.lease_expires_at > now()
               LIMIT $3
           ) AS live
       ) END AS running
FROM drover.tasks AS t
WHERE t.queue = $1
  AND ((t.status = 'pending' AND t.run_at <= now()) OR (t.status = 'running' AND t.lease_expires_at <= now()))
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
