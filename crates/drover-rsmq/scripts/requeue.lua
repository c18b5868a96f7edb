-- Requeue a dead message: take it out of the dead queue and send it to the queue again
-- under the same id, visible now, never received (attempts start again at 1).
-- ARGV[9] task id, ARGV[10] made message id.
local task_id, candidate = ARGV[FIRST_ARG], ARGV[FIRST_ARG + 1]
local id = resolve(DQ, task_id, candidate)
if not id or redis.call('HEXISTS', Q, id) == 1 then
  return 0
end
local now, seconds = clock()
local body = redis.call('HGET', DQ, id)
local max = redis.call('HGET', DSIDE, id .. ':max')
redis.call('ZREM', DZ, id)
redis.call('HDEL', DQ, id, id .. ':rc', id .. ':fr')
redis.call('HDEL', DSIDE, id .. ':lease', id .. ':max', id .. ':err')
ensure_queue(Q, QNAME, seconds)
redis.call('HSET', Q, id, body)
redis.call('ZADD', Z, int(now), id)
redis.call('HINCRBY', Q, 'totalsent', 1)
if max then
  redis.call('HSET', SIDE, id .. ':max', max)
end
if RT ~= '' then
  redis.call('PUBLISH', RT, redis.call('ZCARD', Z))
end
return 1
