-- Move the deadline of every claim still held (same token, still running) to now + $3 µs.
-- The status test is written to stay off the partial index: see complete.sql.
UPDATE drover.tasks AS t
SET lease_expires_at = now() + $3 * interval '1 microsecond'
FROM unnest($1::uuid[], $2::int8[]) AS l(id, token)
WHERE t.id = l.id AND t.lease_token = l.token AND (t.status || '') = 'running'
