-- Make dead or cancelled task ARGV[7] pending again, due now, attempts reset, holding its
-- unique key again. Returns 1 if requeued, 0 if it is not dead or cancelled, is unknown, or
-- another pending or running task holds its unique key (requeueing would make two).
local now = now_ms()
local id = ARGV[7]
local key = task_key(id)
local f = redis.call('HMGET', key, 's', 'k', 'pr', 'ck')
if f[1] ~= 'dead' and f[1] ~= 'cancelled' then return 0 end
if f[2] then
  local holder = redis.call('HGET', K_UNIQUE, f[2])
  if holder and holder ~= id then return 0 end
  redis.call('HSET', K_UNIQUE, f[2], id)
end
redis.call('ZREM', FINISHED[f[1]], id)
if f[4] then redis.call('ZADD', PREFIX .. ':ck:' .. f[4], 0, id) end
redis.call('HSET', key, 's', 'pending', 'a', 0, 'ra', now, 'u', now)
redis.call('ZADD', K_READY, -(tonumber(f[3]) or 0), ready_member(now, id))
redis.call('PUBLISH', CHANNEL, 'requeue')
return 1
