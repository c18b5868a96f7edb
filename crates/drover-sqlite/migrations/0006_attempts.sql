-- drover-sqlite migration 6: attempt history (TaskInfo::attempts). `attempts` is a JSON array
-- of the task's failed attempts, oldest first, at most 20 (drover_core::ATTEMPT_HISTORY_LIMIT),
-- each {"n": attempt, "s": start, "f": end, "e": error} in epoch milliseconds (a null error is
-- an expired lease), NULL for none; appended only by failing completions and expired leases,
-- so a successful completion writes nothing more. `started_at` is the current attempt's claim
-- time, set by the claim's own UPDATE.
ALTER TABLE drover_tasks ADD COLUMN attempts TEXT;
ALTER TABLE drover_tasks ADD COLUMN started_at INTEGER;
