-- rsmq's deleteQueue for the queue (its messages and attributes, and its name in QUEUES),
-- plus Drover's side data. The dead queue stays. Returns 1 when the queue existed.
local existed = redis.call('DEL', Z, Q)
redis.call('DEL', SIDE)
redis.call('SREM', QUEUES, QNAME)
if existed > 0 then
  return 1
end
return 0
