-- Apply completions. ARGV from 7: five per completion (id, token, outcome 'done' | 'dead' |
-- 'retry', retry delay ms, error); at most 1,000 per call. A completion applies only while
-- the task is running under the same token; others are stale and ignored. A retry or a death
-- adds the attempt to the task's history; a success writes nothing more.
local now = now_ms()
local unleased = {}
local done, dead = {}, {}
local ready, scheduled = {}, {}
for b = 7, #ARGV, 5 do
  local id, token, outcome = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local key = task_key(id)
  local f = redis.call('HMGET', key, 's', 't', 'k', 'pr', 'ck')
  if f[1] == 'running' and f[2] == token then
    unleased[#unleased + 1] = id
    if outcome == 'done' then
      redis.call('HSET', key, 's', 'done', 'u', now)
      release_unique(f[3], id)
      leave_key(f[5], id)
      done[#done + 1] = 0
      done[#done + 1] = id
    elseif outcome == 'retry' then
      local run_at = math.min(now + tonumber(ARGV[b + 3]), MAX_MS)
      push_attempt(key, now, ARGV[b + 4])
      redis.call('HSET', key, 's', 'pending', 'ra', run_at, 'e', ARGV[b + 4], 'u', now)
      if f[5] then redis.call('ZREM', PREFIX .. ':ckr:' .. f[5], id) end
      if run_at <= now then
        ready[#ready + 1] = -(tonumber(f[4]) or 0)
        ready[#ready + 1] = ready_member(run_at, id)
      else
        scheduled[#scheduled + 1] = run_at
        scheduled[#scheduled + 1] = id
      end
    else
      push_attempt(key, now, ARGV[b + 4])
      redis.call('HSET', key, 's', 'dead', 'e', ARGV[b + 4], 'u', now)
      release_unique(f[3], id)
      leave_key(f[5], id)
      dead[#dead + 1] = 0
      dead[#dead + 1] = id
    end
  end
end
zrem(K_LEASES, unleased)
zadd(K_DONE, done)
zadd(K_DEAD, dead)
zadd(K_READY, ready)
zadd(K_SCHEDULED, scheduled)
if #ready > 0 then redis.call('PUBLISH', CHANNEL, 'retry') end
prune_caps()
return #unleased
