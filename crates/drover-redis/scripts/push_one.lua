-- Store one plain task: due now, priority 0, no unique key, no concurrency key (a single
-- `push` of a job without options, the commonest call). The same writes as enqueue.lua makes
-- for such a task, in the fewest steps: a single push waits on this script, so it takes only
-- the three keys it writes and four arguments, and runs without common.lua's prelude (every
-- function a script defines is a closure made on each call). Keep it in step with enqueue.lua.
--
-- KEYS: the task's hash, the ready set, the id index (all under the queue's hash tag).
-- ARGV: the queue's signal channel, max attempts, the task id, the payload.
local time = redis.call('TIME')
local now = tostring(tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))
redis.call('HSET', KEYS[1], 'p', ARGV[4], 's', 'pending', 'm', ARGV[2], 'ra', now)
redis.call('ZADD', KEYS[2], '0', string.rep('0', 15 - #now) .. now .. ARGV[3])
redis.call('ZADD', KEYS[3], '0', ARGV[3])
redis.call('PUBLISH', ARGV[1], 'push')
return {}
