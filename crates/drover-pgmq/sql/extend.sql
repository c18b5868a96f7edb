-- Lease extension: pgmq.set_vt, fenced by read_ct so a stale worker cannot extend a claim
-- another reader holds now, nor push back a retry the claim already recorded (a heartbeat that
-- crossed its completion). $1 msg ids, $2 read_ct tokens, $3 lease in microseconds.
UPDATE pgmq."q_{q}" m
SET vt = clock_timestamp() + $3::bigint * interval '1 microsecond'
FROM unnest($1::bigint[], $2::int[]) AS l(id, ct)
WHERE m.msg_id = l.id AND m.read_ct = l.ct
  AND m.headers->>'x-drover-retried' IS DISTINCT FROM m.read_ct::text
