-- Store new tasks, at most 1,000 per call. ARGV[7] is '' for seven arguments per task from
-- ARGV[8] (id, payload, run_at ms or '', priority, max attempts, unique key or '',
-- concurrency key or ''), or the max attempts shared by every task of the call, which then
-- all run now at priority 0 without a unique key or concurrency key and take two arguments
-- each (id, payload): a bulk push of plain jobs sends two sevenths of the arguments. A task
-- with a concurrency key keeps it in `ck` and joins `<prefix>:ck:<key>` (score 0, member id:
-- the key's tasks in push order, read by claim.lua's per-key limit). Every task is stored under its own id except one whose unique key
-- is already held: returns, for each of those, its position in the call (from 1) and the
-- holder's id.
--
-- One plain task alone (a single push) goes to push_one.lua instead.
--
-- This is the hottest path of a bulk push, so it avoids turning numbers into strings (Lua
-- formats them with printf): times, priorities and scores go to Redis as the strings they
-- arrived as where it can, and the ready-set prefix of the current time is made once.
--
-- It runs without common.lua's prelude (see src/scripts.rs): every function defined in a script
-- is a closure made on each call, and a single push pays for each. So it names the few keys it
-- uses itself and inlines now_ms, task_key, ready_prefix and zadd; keep them in step with
-- common.lua. (The tick script prepends common.lua and tick.lua: these locals shadow theirs.)
local K_READY, K_SCHEDULED, K_IDS, K_UNIQUE = KEYS[1], KEYS[2], KEYS[4], KEYS[8]
local TASK_PREFIX = ARGV[1] .. ':task:'
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local now_text = tostring(now)
local now_prefix = string.rep('0', 15 - #now_text) .. now_text
local shared_max = ARGV[7]
local step = 7
if shared_max ~= '' then step = 2 end
local hits = {}
local ready, scheduled, indexed = {}, {}, {}
local nr, ns, ni = 0, 0, 0
for b = 8, #ARGV, step do
  local id, run_at, priority, max, unique, ck = ARGV[b], '', '0', shared_max, '', ''
  if step == 7 then
    run_at, priority, max, unique, ck = ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6]
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
      prefix = string.rep('0', 15 - #run_at) .. run_at
    end
    local key = TASK_PREFIX .. id
    -- Fields at their defaults are left out (see common.lua): every field costs on this path.
    if priority == '0' and unique == '' then
      redis.call('HSET', key, 'p', ARGV[b + 1], 's', 'pending', 'm', max, 'ra', run_at)
    else
      redis.call('HSET', key, 'p', ARGV[b + 1], 's', 'pending', 'm', max, 'ra', run_at, 'pr', priority)
      if unique ~= '' then redis.call('HSET', key, 'k', unique) end
    end
    if ck ~= '' then
      redis.call('HSET', key, 'ck', ck)
      redis.call('ZADD', ARGV[1] .. ':ck:' .. ck, '0', id)
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
if nr > 0 then redis.call('ZADD', K_READY, unpack(ready)) end
if ns > 0 then redis.call('ZADD', K_SCHEDULED, unpack(scheduled)) end
if ni > 0 then redis.call('ZADD', K_IDS, unpack(indexed)) end
if nr > 0 then redis.call('PUBLISH', ARGV[2], 'push') end
return hits
