-- Counts by status, and how many pending tasks are due later than now.
local now = now_ms()
return {
  redis.call('ZCARD', STATUS_SET.pending),
  redis.call('ZCOUNT', K_SCHEDULED, '(' .. now, '+inf'),
  redis.call('ZCARD', STATUS_SET.running),
  redis.call('ZCARD', STATUS_SET.done),
  redis.call('ZCARD', STATUS_SET.dead),
  redis.call('ZCARD', STATUS_SET.cancelled),
}
