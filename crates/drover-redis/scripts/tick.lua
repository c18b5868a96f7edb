-- A recurring schedule's tick (PushTicks), prepended to enqueue.lua. The last three ARGV are
-- the schedule's name, the tick (ms) and '1' to skip the tick while the last pushed task is
-- pending or running; they are taken off ARGV, and what is left is one task as enqueue.lua
-- reads it (its id at ARGV[8]). The hash `<prefix>:cron_ticks` maps each schedule to
-- '<last tick ms>:<last task id>'. Returns {-1} when the tick is not newer than the last one,
-- {-2, id} when it was skipped for the unfinished task `id`; otherwise enqueue.lua stores the
-- task and returns its reply.
local skip_overlap = table.remove(ARGV)
local tick = table.remove(ARGV)
local schedule = table.remove(ARGV)
local K_TICKS = PREFIX .. ':cron_ticks'
local last = redis.call('HGET', K_TICKS, schedule)
if last then
  local sep = string.find(last, ':', 1, true)
  local last_task = string.sub(last, sep + 1)
  if tonumber(string.sub(last, 1, sep - 1)) >= tonumber(tick) then
    return { -1 }
  end
  if skip_overlap == '1' and last_task ~= '' then
    local status = redis.call('HGET', task_key(last_task), 's')
    if status == 'pending' or status == 'running' then
      redis.call('HSET', K_TICKS, schedule, tick .. ':' .. last_task)
      return { -2, last_task }
    end
  end
end
redis.call('HSET', K_TICKS, schedule, tick .. ':' .. ARGV[8])
