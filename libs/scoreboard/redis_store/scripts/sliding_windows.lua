-- Sliding-window rate limits, several checked at once.
-- KEYS: one log per check, in order (all in one slot: a Cluster sends one check per call,
-- redis_store/rate_limit.py).
-- ARGV: window_ms, a unique member, then one limit per key.
-- Checks run in order and stop at the first refusal, which leaves the later logs untouched (as
-- if they had been checked one after another). Returns, per check made, {admitted, remaining,
-- retry_after_ms, reset_ms}. The server clock is used, so every API pod agrees.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[i + 2])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local reset = window
  if oldest[2] then reset = tonumber(oldest[2]) + window - now end
  if count >= limit then
    out[#out + 1] = {0, 0, reset, reset}
    return out
  end
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, window)
  out[#out + 1] = {1, limit - count - 1, 0, reset}
end
return out
