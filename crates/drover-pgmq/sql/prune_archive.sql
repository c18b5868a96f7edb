-- Prune done ($2 true) or cancelled ($2 false) tasks from the archive, archived more than $1
-- microseconds ago, at most $3.
DELETE FROM pgmq."a_{q}"
WHERE msg_id IN (
    SELECT msg_id FROM pgmq."a_{q}"
    WHERE archived_at < clock_timestamp() - $1::bigint * interval '1 microsecond'
      AND (headers->>'x-drover-status' IS DISTINCT FROM 'cancelled') = $2::boolean
    ORDER BY archived_at
    LIMIT $3)
