-- Record a batch of outcomes in one statement. Each row applies only while the task is still
-- running under the same lease token, so stale acks change nothing. Kind 0 = done,
-- 1 = retry after delay_us (error recorded), 2 = dead (error recorded). A retry due at once
-- wakes the queue's idle workers. A failing outcome appends the attempt to the task's history
-- (migration 10); a success writes nothing more.
-- `(t.status || '') = 'running'`, not `t.status = 'running'`: written so, it cannot match the
-- partial index tasks_running_lease_idx, and each row is found by its primary key. With
-- statistics older than the backlog (a table analyzed while nearly empty, autovacuum off or
-- behind) the planner otherwise estimated one running task and hash-joined every running
-- task, dead index entries included: 30 s a call after a 1,000,000-task push (checked by
-- tests/sql.rs, lookups_by_id_use_the_primary_key_with_statistics_older_than_the_backlog).
WITH outcome AS (
    SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int2[], $4::int8[], $5::text[])
        AS o(id, token, kind, delay_us, error)
),
applied AS (
    UPDATE drover.tasks AS t
    SET status = CASE o.kind WHEN 0 THEN 'done' WHEN 1 THEN 'pending' ELSE 'dead' END,
        run_at = CASE WHEN o.kind = 1 THEN now() + o.delay_us * interval '1 microsecond' ELSE t.run_at END,
        last_error = CASE WHEN o.kind = 0 THEN t.last_error ELSE o.error END,
        attempts = CASE WHEN o.kind = 0 THEN t.attempts
                        ELSE drover.push_attempt(t.attempts, t.attempt, t.started_at, now(), o.error) END,
        lease_token = NULL,
        lease_expires_at = NULL,
        updated_at = now()
    FROM outcome AS o
    WHERE t.id = o.id AND t.lease_token = o.token AND (t.status || '') = 'running'
    RETURNING o.kind, o.delay_us
)
SELECT pg_notify('drover_tasks', $6)::text
FROM (SELECT 1 FROM applied WHERE kind = 1 AND delay_us = 0 LIMIT 1) AS due_now
