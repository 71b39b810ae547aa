-- Forward-only ack of one or more channels of one user; drops the counted mentions at or below it.
-- KEYS[1] = rs:{user} (hash: channel -> last message id, 20-digit zero-padded so strings compare as numbers)
-- ARGV[1] = user id, then pairs (channel, message) ARGV[2k], ARGV[2k+1]
-- Mentions of a state live in rm:{user}:channel, a sorted set of 20-digit ids (score 0, lexicographic range),
-- so each mention counts once however often it is added. Returns per channel: applied (1/0), position, mentions.
local out = {}
for i = 2, #ARGV, 2 do
  local channel, message = ARGV[i], ARGV[i + 1]
  local mkey = 'rm:{' .. ARGV[1] .. '}:' .. channel
  local current = redis.call('HGET', KEYS[1], channel)
  if current and current > message then
    out[#out + 1] = 0
    out[#out + 1] = current
  else
    redis.call('HSET', KEYS[1], channel, message)
    redis.call('ZREMRANGEBYLEX', mkey, '-', '[' .. message)
    out[#out + 1] = 1
    out[#out + 1] = message
  end
  out[#out + 1] = redis.call('ZCARD', mkey)
end
return out
