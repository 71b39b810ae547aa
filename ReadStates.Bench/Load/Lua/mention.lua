-- A message in a channel mentions users: count it once for each user who has not read past it.
-- KEYS[k] = rs:{user_k}; ARGV[1] = channel, ARGV[2] = message (20 digits), ARGV[2+k] = user_k.
-- Creates a missing state at position 0, as the service does. Returns how many users' counts rose.
local channel, message = ARGV[1], ARGV[2]
local counted = 0
for k = 1, #KEYS do
  local current = redis.call('HGET', KEYS[k], channel)
  if not current then
    redis.call('HSET', KEYS[k], channel, '00000000000000000000')
    current = '00000000000000000000'
  end
  if current < message then
    counted = counted + redis.call('ZADD', 'rm:{' .. ARGV[2 + k] .. '}:' .. channel, 0, message)
  end
end
return counted
