-- Prune dead tasks (those Drover moved there) from the dead queue, dead more than $1
-- microseconds ago, at most $2.
DELETE FROM pgmq."q_{d}"
WHERE msg_id IN (
    SELECT msg_id FROM pgmq."q_{d}"
    WHERE enqueued_at < clock_timestamp() - $1::bigint * interval '1 microsecond'
      AND headers ? 'x-drover-id'
    ORDER BY msg_id
    LIMIT $2)
