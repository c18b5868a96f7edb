-- Delete up to $5 tasks of queue $1 in status $2 that finished (last changed) more than $4 µs
-- ago. $3 is the task id (ULID) of that moment: a task cannot have finished before it was
-- created, so the range scan of tasks_finished_idx stops there. The status list repeats the
-- index's predicate so that a generic plan (status a parameter) can still use it.
WITH doomed AS (
    SELECT id
    FROM drover.tasks
    WHERE queue = $1 AND status = $2 AND status IN ('done', 'dead', 'cancelled') AND id < $3
      AND updated_at < now() - $4 * interval '1 microsecond'
    LIMIT $5
    FOR UPDATE SKIP LOCKED
)
DELETE FROM drover.tasks AS t
USING doomed
WHERE t.id = doomed.id
