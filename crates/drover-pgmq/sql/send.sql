-- Push: pgmq's own send_batch. Bodies and headers go as text and are parsed by jsonb; a NULL
-- run time means now by the server's clock. $1 queue, $2 bodies, $3 headers, $4 run time.
SELECT msg_id
FROM pgmq.send_batch($1, $2::text[]::jsonb[], $3::text[]::jsonb[], COALESCE($4::timestamptz, clock_timestamp()))
    AS msg_id
