-- rsmq's getQueueAttributes of the queue (ARGV[9] = 'queue') or the dead queue ('dead'):
-- vt, delay, maxsize, totalrecv, totalsent, created, modified, msgs, hiddenmsgs. Hidden
-- messages are counted from the start of the current second, as rsmq does. Returns {} for
-- a queue that does not exist.
local zset, hash = Z, Q
if ARGV[FIRST_ARG] == 'dead' then
  zset, hash = DZ, DQ
end
local _, seconds = clock()
local attrs = redis.call('HMGET', hash, 'vt', 'delay', 'maxsize', 'totalrecv', 'totalsent', 'created', 'modified')
if not attrs[1] then
  return {}
end
local out = {}
for i = 1, 7 do
  out[i] = attrs[i] or '0'
end
out[8] = redis.call('ZCARD', zset)
out[9] = redis.call('ZCOUNT', zset, int(seconds * 1000), '+inf')
return out
