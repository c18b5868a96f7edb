-- Cancel: the message leaves the queue for the archive, marked cancelled; a worker holding it
-- finds nothing to complete. $1 msg id.
WITH gone AS (
    DELETE FROM pgmq."q_{q}" WHERE msg_id = $1
    RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers
)
INSERT INTO pgmq."a_{q}" (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message,
       COALESCE(headers, '{}'::jsonb) || '{"x-drover-status": "cancelled"}'::jsonb
FROM gone
RETURNING msg_id
