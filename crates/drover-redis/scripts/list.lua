-- A page of tasks newest first. ARGV[7]: status or '' for all; ARGV[8] offset; ARGV[9] limit
-- (at most 1,000); ARGV[10]: for pending and running, the rank in the id index to scan from.
--
-- All tasks and finished statuses have their own id-ordered sets, so a page is a range.
-- Pending and running tasks have no id-ordered set of their own (keeping one would cost two
-- writes per task on the hot path); they are found by scanning the id index newest first, at
-- most 5,000 ids per call. Returns {next scan rank or -1, skipped so far, id, fields, …}.
local status = ARGV[7]
local offset = tonumber(ARGV[8])
local limit = math.min(tonumber(ARGV[9]), BUDGET)
local out = {-1, 0}
if limit <= 0 then return out end
-- The hash's pairs, and for a running task its lease deadline as field 'l'.
local function add(id)
  local h = redis.call('HGETALL', task_key(id))
  if #h > 0 then
    local deadline = redis.call('ZSCORE', K_LEASES, id)
    if deadline then
      h[#h + 1] = 'l'
      h[#h + 1] = deadline
    end
    out[#out + 1] = id
    out[#out + 1] = h
  end
end
if status == '' or FINISHED[status] then
  local set = FINISHED[status] or K_IDS
  for _, id in ipairs(redis.call('ZRANGE', set, offset, offset + limit - 1, 'REV')) do add(id) end
  return out
end
local rank = tonumber(ARGV[10])
local skipped = 0
local SCAN = 5000
local ids = redis.call('ZRANGE', K_IDS, rank, rank + SCAN - 1, 'REV')
for i, id in ipairs(ids) do
  if redis.call('HGET', task_key(id), 's') == status then
    if skipped < offset then
      skipped = skipped + 1
    else
      add(id)
      if (#out - 2) / 2 >= limit then
        out[1] = rank + i
        out[2] = skipped
        return out
      end
    end
  end
end
if #ids == SCAN then out[1] = rank + SCAN end
out[2] = skipped
return out
