-- Enqueue from SQL, for producers in other languages (or psql):
--   SELECT drover.push_job('emails', '{"to": "a@example.com"}');
-- returns the new task's id as a 26-character ULID, the same text `TaskId` prints and parses.

-- A new task id: a ULID (48-bit millisecond time, 80 random bits) in a uuid.
CREATE FUNCTION drover.new_task_id() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(
        substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3 FOR 6)
        -- gen_random_uuid's bytes 1-6 and 10-13 are fully random (the others carry version bits).
        || substring(r FROM 1 FOR 6) || substring(r FROM 10 FOR 4),
        'hex')::uuid
    FROM (SELECT uuid_send(gen_random_uuid()) AS r) AS random_bytes
$$;

-- A task id (uuid) as ULID text: Crockford base32 of the 128 bits, 26 characters.
CREATE FUNCTION drover.task_id_text(id uuid) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT string_agg(
        substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', substring(bits FROM i * 5 + 1 FOR 5)::integer + 1, 1),
        '' ORDER BY i)
    FROM (SELECT B'00' || ('x' || replace(id::text, '-', ''))::bit(128) AS bits) AS b,
         generate_series(0, 25) AS i
$$;

CREATE FUNCTION drover.push_job(
    queue        text,
    payload      jsonb,
    run_at       timestamptz DEFAULT now(),
    priority     integer     DEFAULT 0,
    unique_key   text        DEFAULT NULL,
    max_attempts integer     DEFAULT 25
) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    task_id uuid;
BEGIN
    IF push_job.queue IS NULL OR push_job.payload IS NULL THEN
        RAISE EXCEPTION 'drover.push_job: queue and payload must not be NULL';
    END IF;
    IF push_job.max_attempts IS NULL OR push_job.max_attempts < 1 THEN
        RAISE EXCEPTION 'drover.push_job: max_attempts must be at least 1, got %', push_job.max_attempts;
    END IF;
    LOOP
        INSERT INTO drover.tasks (id, queue, payload, run_at, priority, unique_key, max_attempts)
        VALUES (drover.new_task_id(), push_job.queue, convert_to(push_job.payload::text, 'UTF8'),
                coalesce(push_job.run_at, now()), coalesce(push_job.priority, 0), push_job.unique_key,
                push_job.max_attempts)
        ON CONFLICT (queue, unique_key) WHERE unique_key IS NOT NULL AND status IN ('pending', 'running')
        DO NOTHING
        RETURNING id INTO task_id;
        IF task_id IS NULL THEN
            -- A live task holds the unique key: return its id (each statement sees a fresh
            -- snapshot, so a holder committed meanwhile is visible here).
            SELECT t.id INTO task_id FROM drover.tasks AS t
            WHERE t.queue = push_job.queue AND t.unique_key = push_job.unique_key
              AND t.status IN ('pending', 'running');
        END IF;
        -- The holder may have finished between the two statements; then insert again.
        EXIT WHEN task_id IS NOT NULL;
    END LOOP;
    PERFORM pg_notify('drover_tasks', push_job.queue);
    RETURN drover.task_id_text(task_id);
END
$$;
