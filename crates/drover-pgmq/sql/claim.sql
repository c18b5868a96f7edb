-- Claim: pgmq.read's own statement (oldest msg_id first, SKIP LOCKED, read_ct + 1,
-- last_read_at), with the lease in microseconds where pgmq.read takes whole seconds.
-- read_ct after the claim is the lease token. {q} is the checked queue name.
-- $1 most messages, $2 lease in microseconds.
WITH due AS (
    SELECT msg_id, vt
    FROM pgmq."q_{q}"
    WHERE vt <= clock_timestamp()
    ORDER BY msg_id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE pgmq."q_{q}" m
SET last_read_at = clock_timestamp(),
    vt = clock_timestamp() + $2::bigint * interval '1 microsecond',
    read_ct = m.read_ct + 1
FROM due
WHERE m.msg_id = due.msg_id
RETURNING m.msg_id, m.read_ct, m.enqueued_at, due.vt, m.message::text, m.headers::text
