-- A user's score and rank on one board.
-- KEYS: ranking, members, ready (one board: one hash slot).
-- ARGV: user.
-- Returns {score, rank} / {} when the user has no score / {-1} when the board is not ready.
if redis.call('EXISTS', KEYS[3]) == 0 then return {-1} end
local member = redis.call('HGET', KEYS[2], ARGV[1])
if not member then return {} end
local score = redis.call('ZSCORE', KEYS[1], member)
local rank = redis.call('ZREVRANK', KEYS[1], member)
if not score or not rank then return {} end
return {score, rank + 1}
