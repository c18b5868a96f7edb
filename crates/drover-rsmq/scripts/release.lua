-- Hand back claims that never started: visible now, and the receive that claimed each one
-- taken back so it does not count as an attempt (a count back at 0 is removed, with the
-- first-receive time, as if never received). ARGV from 9: triples as in extend.lua.
local now = clock()
local released = 0
for base = FIRST_ARG, #ARGV, 3 do
  local id = held(ARGV[base], ARGV[base + 1], ARGV[base + 2])
  if id then
    redis.call('ZADD', Z, int(now), id)
    if redis.call('HINCRBY', Q, id .. ':rc', -1) <= 0 then
      redis.call('HDEL', Q, id .. ':rc', id .. ':fr')
    end
    redis.call('HDEL', SIDE, id .. ':lease')
    released = released + 1
  end
end
if released > 0 and RT ~= '' then
  redis.call('PUBLISH', RT, redis.call('ZCARD', Z))
end
return released
