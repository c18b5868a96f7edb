-- Outcomes of Drover claims. ARGV from 9: count, then per completion: task id, the message
-- id Drover would have made for it, token, kind (done | retry | dead), delay in ms, error.
-- Applied only where the claim still holds (see `held`); others are ignored.
-- done: rsmq's deleteMessage. retry: rsmq's changeMessageVisibility to now + delay, the
-- receive count kept (it is the attempt). dead: moved to the dead queue.
local now, seconds = clock()
local count = tonumber(ARGV[FIRST_ARG])
local applied = 0
for i = 1, count do
  local base = FIRST_ARG + (i - 1) * 6
  local task_id, candidate, token = ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
  local kind, delay, err = ARGV[base + 4], tonumber(ARGV[base + 5]), ARGV[base + 6]
  local id = held(task_id, candidate, token)
  if id then
    if kind == 'done' then
      delete_message(id, task_id)
    elseif kind == 'retry' then
      redis.call('ZADD', Z, int(now + delay), id)
      redis.call('HDEL', SIDE, id .. ':lease')
      redis.call('HSET', SIDE, id .. ':err', err)
      if delay == 0 and RT ~= '' then
        redis.call('PUBLISH', RT, redis.call('ZCARD', Z))
      end
    else
      move_to_dead(id, now, seconds, err)
    end
    applied = applied + 1
  end
end
return applied
