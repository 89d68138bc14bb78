-- Atomically decides whether the Top N changed since it was last published, at most once per
-- window across every worker.
-- KEYS: ranking, top signature, top version, top published-at (one board: one hash slot).
-- ARGV: size, coalesce window (ms).
-- Returns {0} unchanged, {-1, wait_ms} too soon, {version, m1, s1, ...}.
local rows = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local signature = table.concat(rows, ',')
if signature == (redis.call('GET', KEYS[2]) or '') then return {0} end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('GET', KEYS[4]) or '0')
if now_ms - last < tonumber(ARGV[2]) then return {-1, tonumber(ARGV[2]) - (now_ms - last)} end
local version = tonumber(redis.call('GET', KEYS[3]) or '0') + 1
if version < now_ms then version = now_ms end
redis.call('SET', KEYS[2], signature)
redis.call('SET', KEYS[3], version)
redis.call('SET', KEYS[4], now_ms)
local out = {version}
for i = 1, #rows do out[#out + 1] = rows[i] end
return out
