-- Requeue a dead task: out of the dead queue, back into the queue under its own msg_id (free:
-- pgmq's identity sequence has passed it), due now, read_ct 0, so attempts start again.
-- $1 msg id.
WITH gone AS (
    DELETE FROM pgmq."q_{d}" d
    WHERE d.msg_id = (
            SELECT msg_id FROM pgmq."q_{d}"
            WHERE headers->>'x-drover-id' = $1::bigint::text
            ORDER BY msg_id
            LIMIT 1
            FOR UPDATE SKIP LOCKED)
      AND NOT EXISTS (SELECT 1 FROM pgmq."q_{q}" WHERE msg_id = $1::bigint)
    RETURNING d.message, d.headers
)
INSERT INTO pgmq."q_{q}" (msg_id, vt, message, headers) OVERRIDING SYSTEM VALUE
SELECT $1::bigint, clock_timestamp(), message,
       headers - 'x-drover-id' - 'x-drover-attempts' - 'x-drover-released' - 'x-drover-retried'
FROM gone
RETURNING msg_id
