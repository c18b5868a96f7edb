-- Completions, each fenced by read_ct: a worker whose lease ran out and whose message another
-- reader took since (read_ct moved on) changes nothing. One statement for the whole batch.
-- Done: archived into pgmq.a_{q} the way pgmq.archive moves it (when $6), else deleted.
-- Retry: visible again after the delay, the error and the retried read_ct in the headers.
-- Dead: moved into the dead queue {d}, with the task's id, error and attempts in its headers.
-- $1 msg ids, $2 read_ct tokens, $3 kinds (0 done, 1 retry, 2 dead), $4 retry delays in
-- microseconds, $5 errors, $6 archive done messages, $7 claims to not count as attempts.
WITH c AS (
    SELECT *
    FROM unnest($1::bigint[], $2::int[], $3::smallint[], $4::bigint[], $5::text[], $7::int[])
        AS c(id, ct, kind, delay_us, error, unrun)
),
gone AS (
    DELETE FROM pgmq."q_{q}" m
    USING c
    WHERE m.msg_id = c.id AND m.read_ct = c.ct AND c.kind <> 1
    RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers,
              c.kind, c.error, c.unrun
),
archived AS (
    INSERT INTO pgmq."a_{q}" (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
    SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers
    FROM gone
    WHERE kind = 0 AND $6::boolean
    RETURNING msg_id
),
dead AS (
    INSERT INTO pgmq."q_{d}" (vt, message, headers)
    SELECT clock_timestamp(), message,
           COALESCE(headers, '{}'::jsonb) || jsonb_build_object(
               'x-drover-id', msg_id,
               'x-drover-error', error,
               'x-drover-attempts', GREATEST(read_ct - unrun - COALESCE(
                   CASE WHEN headers->>'x-drover-released' ~ '^[0-9]{1,9}$'
                        THEN (headers->>'x-drover-released')::int END, 0), 0),
               'x-drover-enqueued-at', COALESCE(headers->'x-drover-enqueued-at', to_jsonb(enqueued_at)))
    FROM gone
    WHERE kind = 2
    ORDER BY msg_id
    RETURNING msg_id
),
retried AS (
    UPDATE pgmq."q_{q}" m
    SET vt = clock_timestamp() + c.delay_us * interval '1 microsecond',
        headers = COALESCE(m.headers, '{}'::jsonb)
            || jsonb_build_object('x-drover-error', c.error, 'x-drover-retried', m.read_ct)
    FROM c
    WHERE m.msg_id = c.id AND m.read_ct = c.ct AND c.kind = 1
    RETURNING m.msg_id
)
SELECT (SELECT count(*) FROM archived), (SELECT count(*) FROM dead), (SELECT count(*) FROM retried)
