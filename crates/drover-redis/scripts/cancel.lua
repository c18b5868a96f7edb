-- Cancel task ARGV[7] if pending or running (a running task's token then no longer matches
-- anything). Returns 1 if cancelled, 0 if it was final or unknown.
local now = now_ms()
local id = ARGV[7]
local key = task_key(id)
local f = redis.call('HMGET', key, 's', 'k', 'ra', 'ck')
if f[1] == 'pending' then
  redis.call('ZREM', K_READY, ready_member(tonumber(f[3]), id))
  redis.call('ZREM', K_SCHEDULED, id)
elseif f[1] == 'running' then
  redis.call('ZREM', K_LEASES, id)
else
  return 0
end
redis.call('HSET', key, 's', 'cancelled', 'u', now)
release_unique(f[2], id)
leave_key(f[4], id)
redis.call('ZADD', K_CANCELLED, 0, id)
prune_caps()
return 1
