-- Counts by status, and how many pending tasks are due later than now.
local now = now_ms()
return {
  redis.call('ZCARD', K_READY) + redis.call('ZCARD', K_SCHEDULED),
  redis.call('ZCOUNT', K_SCHEDULED, '(' .. now, '+inf'),
  redis.call('ZCARD', K_LEASES),
  redis.call('ZCARD', K_DONE),
  redis.call('ZCARD', K_DEAD),
  redis.call('ZCARD', K_CANCELLED),
}
