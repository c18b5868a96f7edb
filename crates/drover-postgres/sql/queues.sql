-- Every queue name: a skip scan of each partial index (pending, running, finished), one index
-- probe per queue and index, never a full scan.
WITH RECURSIVE pending AS (
    (SELECT queue FROM drover.tasks WHERE status = 'pending' ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT t.queue FROM drover.tasks AS t
            WHERE t.status = 'pending' AND t.queue > q.queue ORDER BY t.queue LIMIT 1)
    FROM pending AS q
    WHERE q.queue IS NOT NULL
),
running AS (
    (SELECT queue FROM drover.tasks WHERE status = 'running' ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT t.queue FROM drover.tasks AS t
            WHERE t.status = 'running' AND t.queue > q.queue ORDER BY t.queue LIMIT 1)
    FROM running AS q
    WHERE q.queue IS NOT NULL
),
finished AS (
    (SELECT queue FROM drover.tasks WHERE status IN ('done', 'dead', 'cancelled') ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT t.queue FROM drover.tasks AS t
            WHERE t.status IN ('done', 'dead', 'cancelled') AND t.queue > q.queue ORDER BY t.queue LIMIT 1)
    FROM finished AS q
    WHERE q.queue IS NOT NULL
)
SELECT queue FROM pending WHERE queue IS NOT NULL
UNION
SELECT queue FROM running WHERE queue IS NOT NULL
UNION
SELECT queue FROM finished WHERE queue IS NOT NULL
ORDER BY queue
