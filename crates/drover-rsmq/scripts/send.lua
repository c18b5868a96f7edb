-- rsmq's sendMessage for a batch. ARGV from 9: count, then per message: id, body, length
-- (UTF-16 units, what rsmq compares with maxsize), delay in ms ('' = the queue's delay),
-- max attempts ('' = the default). Returns {1} when stored, or {0, index, length, maxsize}
-- for the first message over the queue's maxsize (then nothing is stored).
local now, seconds = clock()
ensure_queue(Q, QNAME, seconds)
local attrs = redis.call('HMGET', Q, 'delay', 'maxsize')
local queue_delay = (tonumber(attrs[1]) or 0) * 1000
local maxsize = tonumber(attrs[2]) or 65536
local count = tonumber(ARGV[FIRST_ARG])

if maxsize ~= -1 then
  for i = 1, count do
    local length = tonumber(ARGV[FIRST_ARG + (i - 1) * 5 + 3])
    if length > maxsize then
      return {0, i, length, maxsize}
    end
  end
end

local sent = 0
for i = 1, count do
  local base = FIRST_ARG + (i - 1) * 5
  local id, body, delay, max = ARGV[base + 1], ARGV[base + 2], ARGV[base + 4], ARGV[base + 5]
  -- A message id already present is a resend of the same push: store it once.
  if redis.call('HSETNX', Q, id, body) == 1 then
    local visible = now + queue_delay
    if delay ~= '' then
      visible = now + tonumber(delay)
    end
    redis.call('ZADD', Z, int(visible), id)
    if max ~= '' then
      redis.call('HSET', SIDE, id .. ':max', max)
    end
    sent = sent + 1
  end
end
if sent > 0 then
  redis.call('HINCRBY', Q, 'totalsent', sent)
  if RT ~= '' then
    redis.call('PUBLISH', RT, redis.call('ZCARD', Z))
  end
end
return {1}
