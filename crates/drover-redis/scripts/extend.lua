-- Extend leases to now + ARGV[7] ms. ARGV from 8: id, token pairs; at most 1,000 per call.
local now = now_ms()
local deadline = math.min(now + tonumber(ARGV[7]), MAX_MS)
local leases = {}
for b = 8, #ARGV, 2 do
  local id = ARGV[b]
  local key = task_key(id)
  local f = redis.call('HMGET', key, 's', 't', 'ck')
  if f[1] == 'running' and f[2] == ARGV[b + 1] then
    leases[#leases + 1] = deadline
    leases[#leases + 1] = id
    if f[3] then redis.call('ZADD', PREFIX .. ':ckr:' .. f[3], deadline, id) end
  end
end
zadd(K_LEASES, leases)
return #leases / 2
