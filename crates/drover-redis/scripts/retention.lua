-- Retention of finished tasks; prepended (after common.lua) to the scripts that finish tasks.

-- Delete finished tasks of status set `set` (at most BUDGET ids) and their index entries.
local function forget(set, ids)
  if #ids == 0 then return end
  local keys = {}
  for i, id in ipairs(ids) do keys[i] = task_key(id) end
  redis.call('UNLINK', unpack(keys))
  zrem(K_IDS, ids)
  zrem(set, ids)
end

-- Retention by count: forget the oldest finished tasks beyond each status's cap (bounded per
-- call; completions call it, so it keeps up with any rate).
local function prune_caps()
  for status, set in pairs(FINISHED) do
    local cap = DONE_CAP
    if status ~= 'done' then cap = DEAD_CAP end
    local excess = redis.call('ZCARD', set) - cap
    if excess > 0 then
      forget(set, redis.call('ZRANGE', set, 0, math.min(excess, BUDGET) - 1))
    end
  end
end

-- The first ten characters of a ULID made at `ms`: ids below it were created earlier.
local CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
local function ulid_time_prefix(ms)
  local s = ''
  for _ = 1, 10 do
    local r = ms % 32
    s = string.sub(CROCKFORD, r + 1, r + 1) .. s
    ms = math.floor(ms / 32)
  end
  return s
end

-- Retention by age: forget finished tasks created longer ago than their status's time to
-- live (bounded per call; idle claims call it, so a quiet queue empties too).
local function prune_ages(now)
  for status, set in pairs(FINISHED) do
    local ttl = DONE_TTL
    if status ~= 'done' then ttl = DEAD_TTL end
    if now - ttl > 0 then
      local cutoff = '(' .. ulid_time_prefix(now - ttl)
      forget(set, redis.call('ZRANGEBYLEX', set, '-', cutoff, 'LIMIT', 0, BUDGET))
    end
  end
end

