-- Apply completions. ARGV from 7: five per completion (id, token, outcome 'done' | 'dead' |
-- 'retry', retry delay ms, error); at most 1,000 per call. A completion applies only while
-- the task is running under the same token; others are stale and ignored.
local now = now_ms()
local unleased = {}
local by_status = { done = {}, dead = {} }
local expiry = {}
local ready, scheduled, pending = {}, {}, {}
for b = 7, #ARGV, 5 do
  local id, token, outcome = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local key = task_key(id)
  local f = redis.call('HMGET', key, 's', 't', 'k', 'pr')
  if f[1] == 'running' and f[2] == token then
    unleased[#unleased + 1] = id
    if outcome == 'retry' then
      local run_at = math.min(now + tonumber(ARGV[b + 3]), MAX_MS)
      redis.call('HSET', key, 's', 'pending', 'ra', run_at, 'e', ARGV[b + 4], 'u', now)
      pending[#pending + 1] = 0
      pending[#pending + 1] = id
      if run_at <= now then
        ready[#ready + 1] = -tonumber(f[4])
        ready[#ready + 1] = ready_member(run_at, id)
      else
        scheduled[#scheduled + 1] = run_at
        scheduled[#scheduled + 1] = id
      end
    else
      if outcome == 'done' then
        redis.call('HSET', key, 's', 'done', 'u', now)
      else
        outcome = 'dead'
        redis.call('HSET', key, 's', 'dead', 'e', ARGV[b + 4], 'u', now)
      end
      release_unique(f[3], id)
      local list = by_status[outcome]
      list[#list + 1] = 0
      list[#list + 1] = id
      expiry[#expiry + 1] = math.min(now + finished_ttl(outcome), MAX_MS)
      expiry[#expiry + 1] = id
    end
  end
end
zrem(K_LEASES, unleased)
zrem(STATUS_SET.running, unleased)
zadd(STATUS_SET.done, by_status.done)
zadd(STATUS_SET.dead, by_status.dead)
zadd(K_EXPIRY, expiry)
zadd(STATUS_SET.pending, pending)
zadd(K_READY, ready)
zadd(K_SCHEDULED, scheduled)
if #ready > 0 then redis.call('PUBLISH', CHANNEL, 'retry') end
prune(now)
return #unleased
