-- Shared by every script: it is prepended to each one (see src/scripts.rs).
--
-- Every script gets the same KEYS, all under one hash tag so a queue lives in one cluster
-- slot, and the same first six ARGV. Task hashes are `<prefix>:task:<id>` under the same tag.
local K_READY = KEYS[1]     -- due pending tasks: score -priority, member run_at..id
local K_SCHEDULED = KEYS[2] -- future pending tasks: score run_at (ms), member id
local K_LEASES = KEYS[3]    -- running tasks: score lease deadline (ms), member id
local K_IDS = KEYS[4]       -- every stored task: score 0, member id (ids sort by creation)
local K_EXPIRY = KEYS[10]   -- finished tasks: score time to forget them (ms), member id
local K_UNIQUE = KEYS[11]   -- hash unique key -> id, while the task is pending or running
local K_SEQ = KEYS[12]      -- lease token sequence
local K_WORKERS = KEYS[13]  -- workers: score last claim (ms), member name
-- One set per status, score 0, member id: pages newest first by rank.
local STATUS_SET = {
  pending = KEYS[5], running = KEYS[6], done = KEYS[7], dead = KEYS[8], cancelled = KEYS[9],
}

local PREFIX = ARGV[1]
local CHANNEL = ARGV[2]
local DONE_TTL = tonumber(ARGV[3])
local DONE_CAP = tonumber(ARGV[4])
local DEAD_TTL = tonumber(ARGV[5])
local DEAD_CAP = tonumber(ARGV[6])

-- Most entries one maintenance step (expired leases, due scheduled tasks, pruning) handles
-- per call, so no script does unbounded work or unpacks an unbounded list.
local BUDGET = 1000
-- Times are milliseconds below 10^14, so Lua's number-to-string conversion (14 digits) is
-- exact wherever a time is stored.
local MAX_MS = 99999999999999

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function task_key(id)
  return PREFIX .. ':task:' .. id
end

-- A due task's member in K_READY. Members of equal score (priority) sort as strings: the run
-- time first at a fixed width (oldest first), then the id (creation order).
local function ready_member(run_at, id)
  return string.format('%015.0f', run_at) .. id
end

-- The id inside a K_READY member.
local function ready_id(member)
  return string.sub(member, 16)
end

local function zadd(key, pairs)
  if #pairs > 0 then redis.call('ZADD', key, unpack(pairs)) end
end

local function zrem(key, members)
  if #members > 0 then redis.call('ZREM', key, unpack(members)) end
end

-- Delete finished tasks (at most BUDGET ids) and every index entry they have.
local function forget(ids)
  if #ids == 0 then return end
  local keys = {}
  for i, id in ipairs(ids) do keys[i] = task_key(id) end
  redis.call('UNLINK', unpack(keys))
  zrem(K_IDS, ids)
  zrem(K_EXPIRY, ids)
  zrem(STATUS_SET.done, ids)
  zrem(STATUS_SET.dead, ids)
  zrem(STATUS_SET.cancelled, ids)
end

-- Retention: forget finished tasks past their time to live, then the oldest beyond each
-- status's cap. Bounded per call; every claim and completion calls it, so it keeps up.
local function prune(now)
  forget(redis.call('ZRANGEBYSCORE', K_EXPIRY, '-inf', now, 'LIMIT', 0, BUDGET))
  local caps = { {STATUS_SET.done, DONE_CAP}, {STATUS_SET.dead, DEAD_CAP}, {STATUS_SET.cancelled, DEAD_CAP} }
  for _, c in ipairs(caps) do
    local excess = redis.call('ZCARD', c[1]) - c[2]
    if excess > 0 then
      forget(redis.call('ZRANGE', c[1], 0, math.min(excess, BUDGET) - 1))
    end
  end
end

-- Free a unique key held by this task.
local function release_unique(key, id)
  if key and redis.call('HGET', K_UNIQUE, key) == id then
    redis.call('HDEL', K_UNIQUE, key)
  end
end

-- Record a task as finished: its status set and its time to be forgotten.
local function finished_ttl(status)
  if status == 'done' then return DONE_TTL end
  return DEAD_TTL
end
