-- Hand-back of unstarted claims: visible at once (pgmq.set_vt(q, id, 0)), fenced by read_ct,
-- and counted in x-drover-released so the claim is not an attempt. read_ct itself still
-- rises, so the next claim's token is new. $1 msg ids, $2 read_ct tokens.
UPDATE pgmq."q_{q}" m
SET vt = clock_timestamp(),
    headers = COALESCE(m.headers, '{}'::jsonb) || jsonb_build_object('x-drover-released', 1 + COALESCE(
        CASE WHEN m.headers->>'x-drover-released' ~ '^[0-9]{1,9}$'
             THEN (m.headers->>'x-drover-released')::int END, 0))
FROM unnest($1::bigint[], $2::int[]) AS l(id, ct)
WHERE m.msg_id = l.id AND m.read_ct = l.ct
  AND m.headers->>'x-drover-retried' IS DISTINCT FROM m.read_ct::text
