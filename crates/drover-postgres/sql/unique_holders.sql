-- The live holders of unique keys $2 in queue $1 (a fresh snapshot after a racing insert).
SELECT unique_key, id
FROM drover.tasks
WHERE queue = $1 AND unique_key = ANY($2::text[]) AND status IN ('pending', 'running')
