-- Per-key concurrency (KeyConcurrency): a task's concurrency key, given at push, and the
-- queue's limit per key. A claim of a queue with a per-key limit runs under the settings
-- row's lock (like a cap or a rate) and takes a keyed task only while fewer than
-- `max_per_key` tasks of its key pushed before it are unfinished, and while fewer than
-- `max_per_key` of its key hold live leases.
-- `key_live` is the key while the task is pending or running and NULL once it is final (MySQL
-- has no partial indexes, as with `unique_live`): the index answers "the key's unfinished
-- tasks pushed before this one" from its first entries, and its entries change only when a
-- keyed task is pushed or finishes, never on a keyless task's claim or completion.
-- Each ALTER is one atomic statement; a run cut short between them finds the first one's
-- column there (see migrate.rs).
ALTER TABLE drover_tasks
    ADD COLUMN concurrency_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    ADD COLUMN key_live VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
        AS (CASE WHEN status IN ('pending', 'running') THEN concurrency_key END) STORED,
    ADD KEY drover_tasks_key_live (queue, key_live, id);
ALTER TABLE drover_queue_settings
    ADD COLUMN max_per_key INT NULL;
