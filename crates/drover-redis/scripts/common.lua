-- Shared by every script: it is prepended to each one (see src/scripts.rs), and
-- retention.lua after it where a script deletes finished tasks.
--
-- Every script gets the same KEYS, all under one hash tag so a queue lives in one cluster
-- slot, and the same first six ARGV. Task hashes are `<prefix>:task:<id>` under the same tag,
-- with fields p (payload), s (status), m (max attempts), ra (run at, ms) and, once they differ
-- from their defaults, a (attempt, 0), pr (priority, 0), u (updated, ms; the id's creation
-- time), t (lease token), k (unique key), e (last error). The creation time is the id's (a
-- ULID); a running task's lease deadline is its score in the leases set.
local K_READY = KEYS[1]     -- due pending tasks: score -priority, member run_at..id
local K_SCHEDULED = KEYS[2] -- future pending tasks: score run_at (ms), member id
local K_LEASES = KEYS[3]    -- running tasks: score lease deadline (ms), member id
local K_IDS = KEYS[4]       -- every stored task: score 0, member id (ids sort by creation)
local K_DONE = KEYS[5]      -- finished tasks by status, score 0, member id
local K_DEAD = KEYS[6]
local K_CANCELLED = KEYS[7]
local K_UNIQUE = KEYS[8]    -- hash unique key -> id, while the task is pending or running
local K_SEQ = KEYS[9]       -- lease token sequence
local K_WORKERS = KEYS[10]  -- workers: score last claim (ms), member name
local FINISHED = { done = K_DONE, dead = K_DEAD, cancelled = K_CANCELLED }

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

local TASK_PREFIX = PREFIX .. ':task:'
local function task_key(id)
  return TASK_PREFIX .. id
end

-- A due task's member in K_READY. Members of equal score (priority) sort as strings: the run
-- time first at a fixed width (oldest first), then the id (creation order).
local function ready_member(run_at, id)
  return string.format('%015.0f', run_at) .. id
end

-- The run time part of a K_READY member, from milliseconds written as a plain integer string
-- (as stored in `ra`): the same text as ready_member's without formatting a number, which
-- costs more than the rest of a push.
local function ready_prefix(ms)
  return string.rep('0', 15 - #ms) .. ms
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

-- Free a unique key held by this task.
-- Append the attempt a task is leaving (its 'a', started at its 'st') to its history: field 'h',
-- a JSON array of {n, s, f, e} as drover_core::AttemptRecord describes, ended at `finished`
-- (ms), failed with `err` (nil: an expired lease), the oldest dropped beyond 20
-- (drover_core::ATTEMPT_HISTORY_LIMIT). Only failures call it: a success writes no history.
local function push_attempt(key, finished, err)
  local f = redis.call('HMGET', key, 'a', 'st', 'h')
  local history = {}
  if f[3] then
    local ok, decoded = pcall(cjson.decode, f[3])
    if ok and type(decoded) == 'table' then history = decoded end
  end
  history[#history + 1] = { n = tonumber(f[1]) or 0, s = tonumber(f[2]) or cjson.null, f = finished,
                            e = err or cjson.null }
  while #history > 20 do table.remove(history, 1) end
  redis.call('HSET', key, 'h', cjson.encode(history))
end

local function release_unique(key, id)
  if key and redis.call('HGET', K_UNIQUE, key) == id then
    redis.call('HDEL', K_UNIQUE, key)
  end
end


-- Per-key concurrency (KeyConcurrency). `<prefix>:ck:<key>` holds a key's unfinished tasks
-- (score 0, member id, so push order); `<prefix>:ckr:<key>` its leased tasks by lease
-- deadline. A finished task leaves both; entries a script missed (a purge, retention) are
-- dropped when met.
local function leave_key(ck, id)
  if ck then
    redis.call('ZREM', PREFIX .. ':ck:' .. ck, id)
    redis.call('ZREM', PREFIX .. ':ckr:' .. ck, id)
  end
end

-- Whether task `id` of key `ck` may start with `k` per key: fewer than k of the key's tasks
-- hold live leases, and fewer than k pushed before it are unfinished. The second value says
-- the key's slots are all running (nothing of it can start in this claim).
local function key_allows(ck, id, k, now)
  -- Live leases only: an expired one's entry stays until its task runs again or finishes.
  if redis.call('ZCOUNT', PREFIX .. ':ckr:' .. ck, '(' .. now, '+inf') >= k then return false, true end
  local unfinished = PREFIX .. ':ck:' .. ck
  while true do
    local earlier = redis.call('ZRANGEBYLEX', unfinished, '-', '(' .. id, 'LIMIT', 0, k)
    local count, stale = 0, {}
    for _, other in ipairs(earlier) do
      local s = redis.call('HGET', task_key(other), 's')
      if s == 'pending' or s == 'running' then count = count + 1 else stale[#stale + 1] = other end
    end
    if count >= k then return false, false end
    if #stale == 0 then return true, false end
    zrem(unfinished, stale)
  end
end
