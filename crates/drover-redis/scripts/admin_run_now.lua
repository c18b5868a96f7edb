-- Make pending task ARGV[7] due now: a scheduled task (or one waiting for its retry) leaves
-- the scheduled set for the ready set with run_at now, and workers are woken. Returns 1 if
-- the task is pending (due now), 0 if it is running, finished or unknown. (The admin's run
-- now; see src/admin.rs.)
local id = ARGV[7]
local key = task_key(id)
local f = redis.call('HMGET', key, 's', 'pr')
if f[1] ~= 'pending' then return 0 end
if redis.call('ZREM', K_SCHEDULED, id) == 1 then
  local now = now_ms()
  redis.call('HSET', key, 'ra', now, 'u', now)
  redis.call('ZADD', K_READY, -(tonumber(f[2]) or 0), ready_member(now, id))
  redis.call('PUBLISH', CHANNEL, 'requeue')
end
return 1
