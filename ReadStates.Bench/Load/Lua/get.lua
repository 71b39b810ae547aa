-- All read states of a user with their mention counts, and the total.
-- KEYS[1] = rs:{user}; ARGV[1] = user id. Returns channel, position, mentions triples, then the total.
local states = redis.call('HGETALL', KEYS[1])
local out = {}
local total = 0
for i = 1, #states, 2 do
  local n = redis.call('ZCARD', 'rm:{' .. ARGV[1] .. '}:' .. states[i])
  out[#out + 1] = states[i]
  out[#out + 1] = states[i + 1]
  out[#out + 1] = n
  total = total + n
end
out[#out + 1] = total
return out
