-- rsmq's receiveMessage for up to ARGV[9] messages, each hidden for ARGV[10] ms (the lease).
-- A due message already received as often as its attempt limit allows is not received: its
-- last holder's lease ran out, so it goes to the dead queue with the error ARGV[11].
-- Returns, per message received: task id (32 hex digits), body, receive count, max attempts,
-- claim token. A message Drover did not make gets its task id recorded (see task_id_of).
local max, lease, expired_error = tonumber(ARGV[FIRST_ARG]), tonumber(ARGV[FIRST_ARG + 1]), ARGV[FIRST_ARG + 2]
local now, seconds = clock()
local hidden_until = int(now + lease)
local out = {}
local received = 0
while received < max do
  local due = redis.call('ZRANGEBYSCORE', Z, '-inf', int(now), 'LIMIT', 0, max - received)
  if #due == 0 then
    break
  end
  for _, id in ipairs(due) do
    local rc = tonumber(redis.call('HGET', Q, id .. ':rc')) or 0
    local limit = tonumber(redis.call('HGET', SIDE, id .. ':max')) or DEFAULT_MAX
    local body = redis.call('HGET', Q, id)
    if not body then
      -- A score without a body is no message at all; rsmq never leaves one.
      delete_message(id, nil)
    elseif rc >= limit then
      move_to_dead(id, now, seconds, expired_error)
    else
      redis.call('ZADD', Z, hidden_until, id)
      redis.call('HINCRBY', Q, 'totalrecv', 1)
      rc = redis.call('HINCRBY', Q, id .. ':rc', 1)
      if rc == 1 then
        redis.call('HSET', Q, id .. ':fr', int(now))
      end
      local token = redis.call('HINCRBY', SIDE, 'seq', 1)
      redis.call('HSET', SIDE, id .. ':lease', int(token) .. ':' .. int(rc))
      local task_id, made_by_drover = task_id_of(id)
      if not made_by_drover then
        redis.call('HSET', SIDE, 'id:' .. task_id, id)
      end
      out[#out + 1] = task_id
      out[#out + 1] = body
      out[#out + 1] = rc
      out[#out + 1] = limit
      out[#out + 1] = token
      received = received + 1
    end
  end
end
return out
