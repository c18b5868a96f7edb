-- Store new tasks, at most 1,000 per call. ARGV[7] is '' for six arguments per task from
-- ARGV[8] (id, payload, run_at ms or '', priority, max attempts, unique key or ''), or the max
-- attempts shared by every task of the call, which then all run now at priority 0 without a
-- unique key and take two arguments each (id, payload): a bulk push of plain jobs sends a
-- third of the arguments. Every task is stored under its own id except one whose unique key
-- is already held: returns, for each of those, its position in the call (from 1) and the
-- holder's id.
--
-- This is the hottest path of a bulk push, so it avoids turning numbers into strings (Lua
-- formats them with printf): times, priorities and scores go to Redis as the strings they
-- arrived as where it can, and the ready-set prefix of the current time is made once.
local now = now_ms()
local now_text = tostring(now)
local now_prefix = ready_prefix(now_text)
local shared_max = ARGV[7]
local step = 6
if shared_max ~= '' then step = 2 end
local hits = {}
local ready, scheduled, indexed = {}, {}, {}
local nr, ns, ni = 0, 0, 0
for b = 8, #ARGV, step do
  local id, run_at, priority, max, unique = ARGV[b], '', '0', shared_max, ''
  if step == 6 then
    run_at, priority, max, unique = ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]
  end
  local existing = false
  if unique ~= '' then
    existing = redis.call('HGET', K_UNIQUE, unique)
    if not existing then redis.call('HSET', K_UNIQUE, unique, id) end
  end
  if existing then
    hits[#hits + 1] = (b - 8) / step + 1
    hits[#hits + 1] = existing
  else
    -- run_at and priority arrive as plain integer strings (see push_args).
    local due, prefix = true, now_prefix
    if run_at == '' then
      run_at = now_text
    elseif tonumber(run_at) > now then
      due = false
    else
      prefix = ready_prefix(run_at)
    end
    local key = task_key(id)
    -- Fields at their defaults are left out (see common.lua): every field costs on this path.
    if priority == '0' and unique == '' then
      redis.call('HSET', key, 'p', ARGV[b + 1], 's', 'pending', 'm', max, 'ra', run_at)
    else
      redis.call('HSET', key, 'p', ARGV[b + 1], 's', 'pending', 'm', max, 'ra', run_at, 'pr', priority)
      if unique ~= '' then redis.call('HSET', key, 'k', unique) end
    end
    if due then
      local score = '0'
      if priority ~= '0' then score = -tonumber(priority) end
      ready[nr + 1] = score
      ready[nr + 2] = prefix .. id
      nr = nr + 2
    else
      scheduled[ns + 1] = run_at
      scheduled[ns + 2] = id
      ns = ns + 2
    end
    indexed[ni + 1] = '0'
    indexed[ni + 2] = id
    ni = ni + 2
  end
end
zadd(K_READY, ready)
zadd(K_SCHEDULED, scheduled)
zadd(K_IDS, indexed)
if nr > 0 then redis.call('PUBLISH', CHANNEL, 'push') end
return hits
