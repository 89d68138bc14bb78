-- Atomically: merge every entry the live keys received during the rebuild into the rebuild keys
-- (only if newer: a higher score, as apply.lua), rename those over the live keys, set `ready`.
-- KEYS: as begin_rebuild.lua.
-- ARGV: lock token, entries loaded into the rebuild keys.
-- Returns the number of live entries merged; -1 when the lock is no longer ours (another rebuild
-- may be using the rebuild keys), -2 when the rebuild keys lost entries (Redis flushed meanwhile):
-- nothing is swapped then.
if redis.call('GET', KEYS[6]) ~= ARGV[1] then return -1 end
local live = redis.call('HGETALL', KEYS[2])
local merged = 0
for i = 1, #live, 2 do
  local user, member = live[i], live[i + 1]
  local score = redis.call('ZSCORE', KEYS[1], member)
  if score then
    local old = redis.call('HGET', KEYS[5], user)
    local old_score = nil
    if old then old_score = tonumber(redis.call('ZSCORE', KEYS[4], old)) end
    if old_score == nil or tonumber(score) > old_score then
      if old then redis.call('ZREM', KEYS[4], old) end
      redis.call('ZADD', KEYS[4], score, member)
      redis.call('HSET', KEYS[5], user, member)
      merged = merged + 1
    end
  end
end
if redis.call('ZCARD', KEYS[4]) < tonumber(ARGV[2]) then return -2 end
for _, pair in ipairs({{KEYS[4], KEYS[1]}, {KEYS[5], KEYS[2]}}) do
  if redis.call('EXISTS', pair[1]) == 1 then
    redis.call('RENAME', pair[1], pair[2])
  else
    redis.call('DEL', pair[2])
  end
end
redis.call('SET', KEYS[3], '1')
return merged
