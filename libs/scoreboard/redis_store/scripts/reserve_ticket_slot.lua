-- The next ticket slot of one user for one action type (ticket staggering).
-- KEYS: the user's stagger key for one type.
-- ARGV: min_ms, how far ahead a notBefore may be.
-- Returns {1, notBefore} (unix ms by Redis's clock, so every API process staggers on one clock)
-- or, refused, {0, ms until a ticket would be granted}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local not_before = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0')) + tonumber(ARGV[1])
local ahead = not_before - now
if ahead > tonumber(ARGV[2]) then return {0, ahead - tonumber(ARGV[2])} end
redis.call('SET', KEYS[1], not_before, 'PX', ahead)
return {1, not_before}
