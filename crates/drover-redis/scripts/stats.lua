-- Counts by status, how many pending tasks are due later than now, and the due time (ms) of
-- the task a claim takes next: the head of the ready set (highest priority, oldest), or the
-- oldest scheduled task that came due and no claim has moved yet, whichever is older; -1 when
-- nothing is due.
local now = now_ms()
local oldest = -1
local head = redis.call('ZRANGE', K_READY, 0, 0)[1]
if head then oldest = tonumber(string.sub(head, 1, 15)) end
local due = redis.call('ZRANGE', K_SCHEDULED, '-inf', now, 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
if due[2] and (oldest < 0 or tonumber(due[2]) < oldest) then oldest = tonumber(due[2]) end
return {
  redis.call('ZCARD', K_READY) + redis.call('ZCARD', K_SCHEDULED),
  redis.call('ZCOUNT', K_SCHEDULED, '(' .. now, '+inf'),
  redis.call('ZCARD', K_LEASES),
  redis.call('ZCARD', K_DONE),
  redis.call('ZCARD', K_DEAD),
  redis.call('ZCARD', K_CANCELLED),
  oldest,
}
