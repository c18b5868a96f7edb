-- drover-sqlite migration 3: per-queue settings kept in the database, so every process
-- honours them. `paused` (0 or 1): claims of the queue return nothing (`Pause`).
CREATE TABLE drover_queue_settings (
    queue      TEXT    NOT NULL PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
