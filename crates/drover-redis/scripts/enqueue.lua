-- Store new tasks. ARGV from 7: six per task (id, payload, run_at ms or '', priority,
-- max attempts, unique key or ''); at most 1,000 tasks per call. Returns the ids in order
-- (the existing task's id for a unique key already held).
local now = now_ms()
local out = {}
local ready, scheduled, indexed = {}, {}, {}
for b = 7, #ARGV, 6 do
  local id, unique = ARGV[b], ARGV[b + 5]
  local existing = false
  if unique ~= '' then
    existing = redis.call('HGET', K_UNIQUE, unique)
    if not existing then redis.call('HSET', K_UNIQUE, unique, id) end
  end
  if existing then
    out[#out + 1] = existing
  else
    local run_at = now
    if ARGV[b + 2] ~= '' then run_at = tonumber(ARGV[b + 2]) end
    local priority = ARGV[b + 3]
    local key = task_key(id)
    -- Fields at their defaults are left out (see common.lua): every field costs on this path.
    if priority == '0' and unique == '' then
      redis.call('HSET', key, 'p', ARGV[b + 1], 's', 'pending', 'm', ARGV[b + 4], 'ra', run_at)
    else
      redis.call('HSET', key, 'p', ARGV[b + 1], 's', 'pending', 'm', ARGV[b + 4], 'ra', run_at, 'pr', priority)
      if unique ~= '' then redis.call('HSET', key, 'k', unique) end
    end
    if run_at <= now then
      ready[#ready + 1] = -tonumber(priority)
      ready[#ready + 1] = ready_member(run_at, id)
    else
      scheduled[#scheduled + 1] = run_at
      scheduled[#scheduled + 1] = id
    end
    indexed[#indexed + 1] = 0
    indexed[#indexed + 1] = id
    out[#out + 1] = id
  end
end
zadd(K_READY, ready)
zadd(K_SCHEDULED, scheduled)
zadd(K_IDS, indexed)
if #ready > 0 then redis.call('PUBLISH', CHANNEL, 'push') end
return out
