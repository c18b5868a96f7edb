-- rsmq's receiveMessage for up to ARGV[9] messages, each hidden for ARGV[10] ms (the lease).
-- A due message already received as often as its attempt limit allows is not received: its
-- last holder's lease ran out, so it goes to the dead queue with the error ARGV[11].
-- Returns, per message received: message id, the task id (32 hex digits) of a message Drover
-- did not make ('' for one it made), body, receive count, max attempts, claim token.
local max, lease, expired_error = tonumber(ARGV[FIRST_ARG]), tonumber(ARGV[FIRST_ARG + 1]), ARGV[FIRST_ARG + 2]
local now, seconds = clock()
local hidden_until = int(now + lease)
local out = {}
local received = 0
-- Tokens for this call, reserved at the first receive (an empty poll writes nothing): the
-- last `max` numbers of the counter.
local next_token = nil
while received < max do
  local due = redis.call('ZRANGEBYSCORE', Z, '-inf', int(now), 'LIMIT', 0, max - received)
  if #due == 0 then
    break
  end
  for _, id in ipairs(due) do
    local message = redis.call('HMGET', Q, id, id .. ':rc')
    local body, rc = message[1], tonumber(message[2]) or 0
    local limit = tonumber(redis.call('HGET', SIDE, id .. ':max')) or DEFAULT_MAX
    if not body then
      -- A score without a body is no message at all; rsmq never leaves one.
      delete_message(id, nil)
    elseif rc >= limit then
      move_to_dead(id, now, seconds, expired_error)
    else
      redis.call('ZADD', Z, hidden_until, id)
      rc = redis.call('HINCRBY', Q, id .. ':rc', 1)
      if rc == 1 then
        redis.call('HSET', Q, id .. ':fr', int(now))
      end
      if not next_token then
        next_token = redis.call('HINCRBY', SIDE, 'seq', max) - max
      end
      next_token = next_token + 1
      local token = next_token
      redis.call('HSET', SIDE, id .. ':lease', int(token) .. ':' .. int(rc))
      local task_id = ''
      if not made_by_drover(id) then
        task_id = foreign_task_id(id)
        redis.call('HSET', SIDE, 'id:' .. task_id, id)
      end
      out[#out + 1] = id
      out[#out + 1] = task_id
      out[#out + 1] = body
      out[#out + 1] = rc
      out[#out + 1] = limit
      out[#out + 1] = token
      received = received + 1
    end
  end
end
-- rsmq counts every receive in totalrecv; one increment for the batch has the same effect.
if received > 0 then
  redis.call('HINCRBY', Q, 'totalrecv', received)
end
return out
