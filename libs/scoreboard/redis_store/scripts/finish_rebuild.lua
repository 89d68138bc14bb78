-- Atomically: merge every entry the live keys received during the rebuild into the rebuild keys
-- (only if newer, as apply.lua decides; an entry of a user hidden on either side stays hidden),
-- rename those over the live keys, set `ready`.
-- KEYS: as begin_rebuild.lua.
-- ARGV: lock token, entries loaded into the rebuild keys (ranking and hidden), expire-at (unix
-- ms; 0: never).
-- Returns the number of live entries merged; -1 when the lock is no longer ours (another rebuild
-- may be using the rebuild keys), -2 when the rebuild keys lost entries (Redis flushed meanwhile):
-- nothing is swapped then.
-- include: _entries
if redis.call('GET', KEYS[6]) ~= ARGV[1] then return -1 end
local live = redis.call('HGETALL', KEYS[2])
local merged = 0
for i = 1, #live, 2 do
  local user = live[i]
  local member, score, live_hidden, version = held_entry(KEYS[1], KEYS[2], KEYS[7], KEYS[8], user)
  if score then
    local old, old_score, held, old_version = held_entry(KEYS[4], KEYS[5], KEYS[9], KEYS[10], user)
    if replaces(score, version, old_score, old_version) then
      if old and not held then redis.call('ZREM', KEYS[4], old) end
      if held or live_hidden then
        redis.call('HSET', KEYS[10], user, score)
      else
        redis.call('ZADD', KEYS[4], score, member)
      end
      redis.call('HSET', KEYS[5], user, member)
      if version > 0 then redis.call('HSET', KEYS[9], user, version) end
      merged = merged + 1
    end
  end
end
if redis.call('ZCARD', KEYS[4]) + redis.call('HLEN', KEYS[10]) < tonumber(ARGV[2]) then return -2 end
for _, pair in ipairs({{KEYS[4], KEYS[1]}, {KEYS[5], KEYS[2]}, {KEYS[9], KEYS[7]}, {KEYS[10], KEYS[8]}}) do
  if redis.call('EXISTS', pair[1]) == 1 then
    redis.call('RENAME', pair[1], pair[2])
  else
    redis.call('DEL', pair[2])
  end
end
redis.call('SET', KEYS[3], '1')
if tonumber(ARGV[3]) > 0 then
  for _, k in ipairs({1, 2, 3, 7, 8}) do redis.call('PEXPIREAT', KEYS[k], ARGV[3]) end
end
return merged
