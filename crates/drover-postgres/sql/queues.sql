-- Every queue name, by a skip scan of tasks_queue_status_id_idx (one index probe per queue,
-- never a full scan).
WITH RECURSIVE queues AS (
    (SELECT queue FROM drover.tasks ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT t.queue FROM drover.tasks AS t WHERE t.queue > q.queue ORDER BY t.queue LIMIT 1)
    FROM queues AS q
    WHERE q.queue IS NOT NULL
)
SELECT queue FROM queues WHERE queue IS NOT NULL
