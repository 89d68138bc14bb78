-- Remember that an event for this score is on the stream.
-- KEYS: emitted.
-- ARGV: user, score.
-- Returns 1.
if tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1') < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
