-- Insert a batch without unique keys in one statement; the ids are made by the client.
INSERT INTO drover.tasks (id, queue, payload, run_at, priority, max_attempts, concurrency_key)
SELECT i.id, $1, i.payload, coalesce(i.run_at, now()), i.priority, i.max_attempts, i.concurrency_key
FROM unnest($2::uuid[], $3::bytea[], $4::timestamptz[], $5::int4[], $6::int4[], $7::text[])
    AS i(id, payload, run_at, priority, max_attempts, concurrency_key)
