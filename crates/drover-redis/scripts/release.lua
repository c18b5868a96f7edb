-- Hand back unstarted claims: pending, due now (run_at unchanged, already past), the attempt
-- not counted. ARGV from 7: id, token pairs; at most 1,000 per call.
local now = now_ms()
local released, ready = {}, {}
for b = 7, #ARGV, 2 do
  local id = ARGV[b]
  local key = task_key(id)
  local f = redis.call('HMGET', key, 's', 't', 'pr', 'ra', 'a', 'ck')
  if f[1] == 'running' and f[2] == ARGV[b + 1] then
    redis.call('HSET', key, 's', 'pending', 'a', math.max((tonumber(f[5]) or 0) - 1, 0), 'u', now)
    released[#released + 1] = id
    if f[6] then redis.call('ZREM', PREFIX .. ':ckr:' .. f[6], id) end
    ready[#ready + 1] = -(tonumber(f[3]) or 0)
    ready[#ready + 1] = ready_member(tonumber(f[4]), id)
  end
end
zrem(K_LEASES, released)
zadd(K_READY, ready)
if #ready > 0 then redis.call('PUBLISH', CHANNEL, 'release') end
return #released
