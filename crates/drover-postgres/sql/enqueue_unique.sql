-- Insert a batch with unique keys in one statement and return, in input order, each task's
-- id: its own when inserted; for a duplicate key, the id of the task holding it (inserted
-- earlier in this batch, or already live in the table). NULL means the holder committed after
-- this statement's snapshot; the client looks those up again.
WITH input AS (
    SELECT *
    FROM unnest($2::uuid[], $3::bytea[], $4::timestamptz[], $5::int4[], $6::int4[], $7::text[], $8::text[])
        WITH ORDINALITY AS i(id, payload, run_at, priority, max_attempts, unique_key, concurrency_key, ord)
),
inserted AS (
    INSERT INTO drover.tasks (id, queue, payload, run_at, priority, max_attempts, unique_key, concurrency_key)
    SELECT id, $1, payload, coalesce(run_at, now()), priority, max_attempts, unique_key, concurrency_key
    FROM input
    ORDER BY ord
    ON CONFLICT (queue, unique_key) WHERE unique_key IS NOT NULL AND status IN ('pending', 'running')
    DO NOTHING
    RETURNING id, unique_key
)
SELECT coalesce(mine.id, batch.id, live.id) AS id
FROM input AS i
LEFT JOIN inserted AS mine ON mine.id = i.id
LEFT JOIN LATERAL (
    SELECT b.id FROM inserted AS b
    WHERE mine.id IS NULL AND b.unique_key = i.unique_key
    LIMIT 1
) AS batch ON true
LEFT JOIN LATERAL (
    SELECT t.id FROM drover.tasks AS t
    WHERE mine.id IS NULL AND batch.id IS NULL
      AND t.queue = $1 AND t.unique_key = i.unique_key AND t.status IN ('pending', 'running')
    LIMIT 1
) AS live ON true
ORDER BY i.ord
