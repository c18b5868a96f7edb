-- Shared by every script (prepended to each). The layout is npm rsmq 0.12's:
--   KEYS[1] <ns>:<queue>        sorted set: message id -> visible-from time in ms
--   KEYS[2] <ns>:<queue>:Q      hash: queue attributes, and per message <id> (body),
--                               <id>:rc (receive count), <id>:fr (first receive, ms)
--   KEYS[3] <ns>:<queue>:drover Drover's side data, which rsmq never reads:
--                               <id>:lease "<token>:<rc>" while a Drover claim holds it,
--                               <id>:max attempts when not the storage's default,
--                               <id>:err last error, id:<task id> -> message id for
--                               messages whose id Drover did not make, seq (token counter)
--   KEYS[4..6]                  the same three keys of the dead queue
--   KEYS[7] <ns>:QUEUES         set of queue names
-- ARGV[1] queue name, ARGV[2] dead queue name, ARGV[3]/ARGV[4] realtime channels of the
-- queue and the dead queue ('' when realtime is off), ARGV[5] default max attempts,
-- ARGV[6..8] vt, delay and maxsize for a queue Drover creates. Script arguments start at 9.

local Z, Q, SIDE = KEYS[1], KEYS[2], KEYS[3]
local DZ, DQ, DSIDE = KEYS[4], KEYS[5], KEYS[6]
local QUEUES = KEYS[7]
local QNAME, DEAD_QNAME = ARGV[1], ARGV[2]
local RT, DEAD_RT = ARGV[3], ARGV[4]
local DEFAULT_MAX = tonumber(ARGV[5])
local FIRST_ARG = 9

-- Message ids are 32 characters like rsmq's: the send time in microseconds in base 36 (10
-- characters), then 22 characters of A-Z a-z 0-9. An id Drover makes holds its task id (a
-- 128-bit ULID) in those 22 characters, as a base-62 number, and the ULID's milliseconds * 1000
-- as its time; Drover decodes such ids itself. Any other id (sent by an rsmq client) gets a
-- task id made of its time in ms and 80 bits of the SHA-1 of the id, recorded in the side
-- data so the task id finds the message again.
local TIME_MODULUS = 3656158440062976 -- 36^10: the time part stays 10 characters
local TWO80 = 1208925819614629174706176

-- The value of an rsmq id character in base 62 (A-Z, a-z, 0-9), or nil.
local function b62(byte)
  if byte >= 65 and byte <= 90 then
    return byte - 65
  elseif byte >= 97 and byte <= 122 then
    return byte - 71
  elseif byte >= 48 and byte <= 57 then
    return byte + 4
  end
  return nil
end

-- Whether Drover made message id `id`: its time part is the milliseconds held in the top 48
-- bits of its base-62 part, times 1000. Doubles hold those bits to within one unit, hence the
-- tolerance; an rsmq id passes by chance about once in 10^15 (and Drover checks exactly).
local function made_by_drover(id)
  local micros = tonumber(string.sub(id, 1, 10), 36)
  if #id ~= 32 or not micros then
    return false
  end
  local value = 0
  for i = 11, 32 do
    local digit = b62(string.byte(id, i))
    if not digit then
      return false
    end
    value = value * 62 + digit
  end
  local ms = math.floor(value / TWO80)
  for candidate = ms - 1, ms + 1 do
    if (candidate * 1000) % TIME_MODULUS == micros then
      return true
    end
  end
  return false
end

-- The task id, as 32 hex digits, of a message Drover did not make.
local function foreign_task_id(id)
  local ms = math.floor((tonumber(string.sub(id, 1, 10), 36) or 0) / 1000) % 281474976710656
  return string.format('%012x', ms) .. string.sub(redis.sha1hex(id), 1, 20)
end

-- The server clock, in the unit rsmq scores with: seconds * 1000 + the milliseconds of the
-- microseconds part. Also the seconds, for created/modified.
local function clock()
  local t = redis.call('TIME')
  local seconds = tonumber(t[1])
  return seconds * 1000 + math.floor(tonumber(t[2]) / 1000), seconds
end

-- Scores and times as integer text: Lua's own number formatting would switch to exponents.
local function int(n)
  return string.format('%.0f', n)
end

-- rsmq's createQueue when the queue is missing (every field set only if absent).
local function ensure_queue(hash, name, seconds)
  if redis.call('HSETNX', hash, 'vt', ARGV[6]) == 1 then
    redis.call('HSETNX', hash, 'delay', ARGV[7])
    redis.call('HSETNX', hash, 'maxsize', ARGV[8])
    redis.call('HSETNX', hash, 'created', seconds)
    redis.call('HSETNX', hash, 'modified', seconds)
    redis.call('SADD', QUEUES, name)
  end
end

-- The message id a task id stands for in (zset, hash): the id Drover made from it, or the
-- recorded id of a message someone else sent.
local function resolve(hash, task_id, candidate)
  if redis.call('HEXISTS', hash, candidate) == 1 then
    return candidate
  end
  local mapped = redis.call('HGET', SIDE, 'id:' .. task_id)
  if mapped and redis.call('HEXISTS', hash, mapped) == 1 then
    return mapped
  end
  return nil
end

-- The message a Drover claim (task id, the id Drover would have made, token) still holds, or
-- nil: the claim is recorded and nobody (Drover or an rsmq client) has received or deleted
-- the message since (a deleted message has no receive count left to match).
local function held(task_id, candidate, token)
  local id = candidate
  local lease = redis.call('HGET', SIDE, id .. ':lease')
  if not lease then
    id = redis.call('HGET', SIDE, 'id:' .. task_id)
    if not id then
      return nil
    end
    lease = redis.call('HGET', SIDE, id .. ':lease')
    if not lease then
      return nil
    end
  end
  local rc = redis.call('HGET', Q, id .. ':rc') or '0'
  if lease ~= token .. ':' .. rc then
    return nil
  end
  return id
end

-- rsmq's deleteMessage, plus Drover's side data.
local function delete_message(id, task_id)
  redis.call('ZREM', Z, id)
  redis.call('HDEL', Q, id, id .. ':rc', id .. ':fr')
  redis.call('HDEL', SIDE, id .. ':lease', id .. ':max', id .. ':err', 'id:' .. (task_id or ''))
end

-- Take a message out of the queue and send it to the dead queue under the same id (the
-- body unchanged, delayed by the dead queue's delay like rsmq's sendMessage), keeping the
-- error and attempt limit in the dead queue's side data.
local function move_to_dead(id, now, seconds, err)
  local body = redis.call('HGET', Q, id)
  local max = redis.call('HGET', SIDE, id .. ':max')
  delete_message(id, nil)
  if not body then
    return
  end
  ensure_queue(DQ, DEAD_QNAME, seconds)
  local delay = tonumber(redis.call('HGET', DQ, 'delay')) or 0
  redis.call('ZADD', DZ, int(now + delay * 1000), id)
  redis.call('HSET', DQ, id, body)
  redis.call('HDEL', DQ, id .. ':rc', id .. ':fr')
  redis.call('HINCRBY', DQ, 'totalsent', 1)
  redis.call('HSET', DSIDE, id .. ':err', err)
  if max then
    redis.call('HSET', DSIDE, id .. ':max', max)
  end
  if DEAD_RT ~= '' then
    redis.call('PUBLISH', DEAD_RT, redis.call('ZCARD', DZ))
  end
end

