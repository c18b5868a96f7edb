-- rsmq's changeMessageVisibility to now + ARGV[9] ms for every claim that still holds.
-- ARGV from 10: triples of task id, made message id, token.
local now = clock()
local visible = int(now + tonumber(ARGV[FIRST_ARG]))
local extended = 0
for base = FIRST_ARG + 1, #ARGV, 3 do
  local id = held(ARGV[base], ARGV[base + 1], ARGV[base + 2])
  if id then
    redis.call('ZADD', Z, 'XX', visible, id)
    extended = extended + 1
  end
end
return extended
