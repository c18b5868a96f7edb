-- Every task of the queue as inspection sees it: pgmq.q_{q} (pending or running), the archive
-- pgmq.a_{q} (done or cancelled) and the dead queue (dead, under the id it had in the queue).
-- A message is running while a read holds it: vt in the future, read at least once, and not
-- waiting for a retry recorded at its current read_ct.
WITH tasks AS (
    SELECT m.msg_id AS id,
           CASE WHEN m.vt <= clock_timestamp() OR m.read_ct = 0
                     OR m.headers->>'x-drover-retried' = m.read_ct::text
                THEN 'pending' ELSE 'running' END AS status,
           m.vt > clock_timestamp() AS later,
           m.read_ct - COALESCE(CASE WHEN m.headers->>'x-drover-released' ~ '^[0-9]{1,9}$'
                                     THEN (m.headers->>'x-drover-released')::int END, 0) AS attempt,
           m.vt, m.enqueued_at, COALESCE(m.last_read_at, m.enqueued_at) AS updated_at,
           m.message::text AS body, m.headers::text AS headers
    FROM pgmq."q_{q}" m
    UNION ALL
    SELECT a.msg_id,
           CASE WHEN a.headers->>'x-drover-status' = 'cancelled' THEN 'cancelled' ELSE 'done' END,
           false,
           a.read_ct - COALESCE(CASE WHEN a.headers->>'x-drover-released' ~ '^[0-9]{1,9}$'
                                     THEN (a.headers->>'x-drover-released')::int END, 0),
           a.vt, a.enqueued_at, a.archived_at, a.message::text, a.headers::text
    FROM pgmq."a_{q}" a
    UNION ALL
    SELECT CASE WHEN d.headers->>'x-drover-id' ~ '^[0-9]{1,18}$' THEN (d.headers->>'x-drover-id')::bigint END,
           'dead',
           false,
           CASE WHEN d.headers->>'x-drover-attempts' ~ '^[0-9]{1,9}$'
                THEN (d.headers->>'x-drover-attempts')::int ELSE 0 END,
           d.vt, d.enqueued_at, d.enqueued_at, d.message::text, d.headers::text
    FROM pgmq."q_{d}" d
    WHERE d.headers->>'x-drover-id' ~ '^[0-9]{1,18}$'
)
