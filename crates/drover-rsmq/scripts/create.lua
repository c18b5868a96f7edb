-- rsmq's createQueue for the queue, if it is missing. Returns 1 when created, 0 when it
-- existed already.
local _, seconds = clock()
local existed = redis.call('HEXISTS', Q, 'vt')
ensure_queue(Q, QNAME, seconds)
if existed == 1 then
  return 0
end
return 1
