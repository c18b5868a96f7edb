-- Requeue a cancelled task: out of the archive, back into the queue under its own msg_id, due
-- now, read_ct 0. $1 msg id.
WITH gone AS (
    DELETE FROM pgmq."a_{q}" a
    WHERE a.msg_id = $1::bigint AND a.headers->>'x-drover-status' = 'cancelled'
      AND NOT EXISTS (SELECT 1 FROM pgmq."q_{q}" WHERE msg_id = $1::bigint)
    RETURNING a.enqueued_at, a.message, a.headers
)
INSERT INTO pgmq."q_{q}" (msg_id, enqueued_at, vt, message, headers) OVERRIDING SYSTEM VALUE
SELECT $1::bigint, enqueued_at, clock_timestamp(), message,
       headers - 'x-drover-status' - 'x-drover-released' - 'x-drover-retried'
FROM gone
RETURNING msg_id
