-- A page of tasks newest first: ARGV[7] status or '' for all, ARGV[8] offset, ARGV[9] limit
-- (at most 1,000). Returns id, HGETALL pairs, for each task.
local set = K_IDS
if ARGV[7] ~= '' then set = STATUS_SET[ARGV[7]] end
local offset = tonumber(ARGV[8])
local limit = math.min(tonumber(ARGV[9]), BUDGET)
local out = {}
if limit <= 0 then return out end
local ids = redis.call('ZRANGE', set, offset, offset + limit - 1, 'REV')
for _, id in ipairs(ids) do
  local h = redis.call('HGETALL', task_key(id))
  if #h > 0 then
    out[#out + 1] = id
    out[#out + 1] = h
  end
end
return out
