-- Claim up to ARGV[7] (at most 1,000) due tasks for ARGV[9] with a lease of ARGV[8] ms.
-- ARGV[10]: the error recorded when a lease expires on the last attempt.
-- First expired leases go back to the ready set and due scheduled tasks are promoted.
-- Returns five values per task: its ready member (run_at as 15 digits of ms, then the id),
-- token, attempt, max attempts, payload.
local max = tonumber(ARGV[7])
local lease = tonumber(ARGV[8])
local worker = ARGV[9]
local now = now_ms()

-- The queue's settings, one read per claim (`<prefix>:settings`): `paused` ('1': claim
-- nothing, expired leases included), `max_running` (GlobalConcurrency), and the rate
-- `rate_n` starts per `rate_per` ms with `rate_tat`, its theoretical arrival time in ms
-- (GlobalRate), and `max_per_key` (KeyConcurrency).
local settings =
  redis.call('HMGET', PREFIX .. ':settings', 'paused', 'max_running', 'rate_n', 'rate_per', 'rate_tat', 'max_per_key')
if settings[1] then
  return {}
end

-- Expired leases: pending again, ahead of newer work of their priority (run_at unchanged);
-- on the last attempt the task is dead instead, so a job that kills its worker cannot run
-- forever.
local expired = redis.call('ZRANGEBYSCORE', K_LEASES, '-inf', now, 'LIMIT', 0, BUDGET)
if #expired > 0 then
  local ready, dead = {}, {}
  for _, id in ipairs(expired) do
    local key = task_key(id)
    local f = redis.call('HMGET', key, 's', 'pr', 'ra', 'a', 'm', 'k', 'ck')
    if f[1] == 'running' then
      -- The lost attempt joins the history, ended when its lease ran out.
      local ran_out = tonumber(redis.call('ZSCORE', K_LEASES, id)) or now
      if (tonumber(f[4]) or 0) >= tonumber(f[5]) then
        push_attempt(key, ran_out, ARGV[10])
        redis.call('HSET', key, 's', 'dead', 'e', ARGV[10], 'u', now)
        release_unique(f[6], id)
        leave_key(f[7], id)
        dead[#dead + 1] = 0
        dead[#dead + 1] = id
      else
        push_attempt(key, ran_out, nil)
        redis.call('HSET', key, 's', 'pending', 'u', now)
        ready[#ready + 1] = -(tonumber(f[2]) or 0)
        ready[#ready + 1] = ready_member(tonumber(f[3]), id)
      end
    end
  end
  zrem(K_LEASES, expired)
  zadd(K_READY, ready)
  zadd(K_DEAD, dead)
end

-- Scheduled tasks whose time has come.
local due = redis.call('ZRANGEBYSCORE', K_SCHEDULED, '-inf', now, 'LIMIT', 0, BUDGET)
if #due > 0 then
  local ready = {}
  for _, id in ipairs(due) do
    local f = redis.call('HMGET', task_key(id), 'pr', 'ra')
    if f[2] then
      ready[#ready + 1] = -(tonumber(f[1]) or 0)
      ready[#ready + 1] = ready_member(tonumber(f[2]), id)
    end
  end
  zrem(K_SCHEDULED, due)
  zadd(K_READY, ready)
end

-- A cap on the queue's running tasks: the live leases are the running tasks, expired ones
-- having just been taken back above.
local cap = settings[2]
if cap then
  local free = tonumber(cap) - redis.call('ZCARD', K_LEASES)
  if free < max then max = free end
  if max <= 0 then return {} end
end

-- A rate of starts, as drover_core::Rate::grant computes it. With no start allowed, the
-- reply is {-1, ms until the next one}.
local interval, rate_start
if settings[3] then
  local n = tonumber(settings[3])
  interval = tonumber(settings[4]) / n
  local tolerance = interval * (math.max(1, math.ceil(n / 40)) - 1)
  rate_start = math.max(tonumber(settings[5]) or 0, now)
  if rate_start - now > tolerance then
    return { -1, math.ceil(rate_start - tolerance - now) }
  end
  local allowed = math.floor((now + tolerance - rate_start) / interval) + 1
  if allowed < max then max = allowed end
end

local out = {}
local leases = {}
local deadline = math.min(now + lease, MAX_MS)
-- Lease the pending task `id` (its K_READY member `member`, already out of K_READY) with
-- token `token`; a keyed task's lease also goes into its key's running set.
local function lease_task(member, id, token, f)
  local attempt = (tonumber(f[4]) or 0) + 1
  redis.call('HSET', task_key(id), 's', 'running', 'a', attempt, 't', token, 'u', now, 'st', now)
  out[#out + 1] = member
  out[#out + 1] = token
  out[#out + 1] = attempt
  out[#out + 1] = f[3]
  out[#out + 1] = f[2]
  leases[#leases + 1] = deadline
  leases[#leases + 1] = id
  if f[5] then redis.call('ZADD', PREFIX .. ':ckr:' .. f[5], deadline, id) end
end

local per_key = tonumber(settings[6])
local n = 0
if per_key then
  -- Per-key concurrency: walk the ready set in claim order (at most BUDGET members) and take
  -- a keyed task only while its key allows it (key_allows); tasks of a key at its limit stay
  -- where they are. A key found with all its slots running is not looked at again in this
  -- claim; one held back only by earlier tasks is (a task pushed earlier may come later in
  -- claim order, after a retry).
  local take = math.min(max, BUDGET)
  local full, taken = {}, {}
  -- One block of tokens for the claim (unused ones are skipped: tokens need only be unique).
  local base = redis.call('INCRBY', K_SEQ, take) - take
  local offset, scanned = 0, 0
  while #taken < take and scanned < BUDGET do
    local batch = redis.call('ZRANGE', K_READY, offset, offset + math.max(99, take - #taken + 9))
    if #batch == 0 then break end
    for _, member in ipairs(batch) do
      scanned = scanned + 1
      local id = ready_id(member)
      local f = redis.call('HMGET', task_key(id), 's', 'p', 'm', 'a', 'ck')
      local ok = f[1] == 'pending'
      if ok and f[5] then
        if full[f[5]] then
          ok = false
        else
          local allowed, at_limit = key_allows(f[5], id, per_key, now)
          ok = allowed
          if at_limit then full[f[5]] = true end
        end
      end
      if ok then
        taken[#taken + 1] = member
        lease_task(member, id, base + #taken, f)
        if #taken >= take then break end
      end
    end
    offset = offset + #batch
  end
  zrem(K_READY, taken)
  n = #taken
else
  local popped = redis.call('ZPOPMIN', K_READY, math.min(max, BUDGET))
  n = #popped / 2
  if n > 0 then
    local base = redis.call('INCRBY', K_SEQ, n) - n
    for i = 1, n do
      local member = popped[2 * i - 1]
      local id = ready_id(member)
      local f = redis.call('HMGET', task_key(id), 's', 'p', 'm', 'a', 'ck')
      if f[1] == 'pending' then
        lease_task(member, id, base + i, f)
      end
    end
  end
end
if #leases > 0 then
  zadd(K_LEASES, leases)
  if interval then
    -- Lua prints numbers with 14 digits: milliseconds with three decimals stay exact.
    redis.call('HSET', PREFIX .. ':settings', 'rate_tat', string.format('%.3f', rate_start + interval * (#leases / 2)))
  end
end

-- Who claims, for inspection.
redis.call('ZADD', K_WORKERS, now, worker)
if n < max then
  -- A short claim means the queue is quiet: time for the slower upkeep.
  redis.call('ZREMRANGEBYSCORE', K_WORKERS, '-inf', now - 86400000)
  prune_ages(now)
end
return out
