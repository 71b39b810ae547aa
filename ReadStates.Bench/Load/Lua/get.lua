-- Read states of a user with their mention counts, and the total: all of them, or the listed channels.
-- KEYS[1] = rs:{user}; ARGV[1] = user id, ARGV[2..] = channels (20 digits; none = all).
-- Returns channel, position, mentions triples, then the total over the returned states.
local out = {}
local total = 0
local function emit(channel, position)
  local n = redis.call('ZCARD', 'rm:{' .. ARGV[1] .. '}:' .. channel)
  out[#out + 1] = channel
  out[#out + 1] = position
  out[#out + 1] = n
  total = total + n
end
if #ARGV > 1 then
  local channels = {}
  for i = 2, #ARGV do channels[#channels + 1] = ARGV[i] end
  local positions = redis.call('HMGET', KEYS[1], unpack(channels))
  for i = 1, #channels do
    if positions[i] then emit(channels[i], positions[i]) end
  end
else
  local states = redis.call('HGETALL', KEYS[1])
  for i = 1, #states, 2 do emit(states[i], states[i + 1]) end
end
out[#out + 1] = total
return out
