-- Hide users from one board window's ranking, or show them again (bans and quarantines: DESIGN
-- section 11). A hidden user's entry moves from the ranking to `hidden` (user -> score, '' while
-- they have none), where apply.lua keeps it; shown again, it returns to the ranking, so the
-- ranks below it close up and open again with no other change.
-- KEYS: ranking, members, hidden (one board window: one hash slot).
-- ARGV: expire-at (unix ms; 0: never), then (user, 1 to hide | 0 to show) pairs.
-- Returns how many entries left or joined the ranking.
local changed = 0
for i = 2, #ARGV, 2 do
  local user, hide = ARGV[i], ARGV[i + 1] == '1'
  local held = redis.call('HGET', KEYS[3], user)
  local member = redis.call('HGET', KEYS[2], user)
  if hide and not held then
    local score = nil
    if member then score = redis.call('ZSCORE', KEYS[1], member) end
    if score then
      redis.call('ZREM', KEYS[1], member)
      changed = changed + 1
    end
    redis.call('HSET', KEYS[3], user, score or '')
  elseif not hide and held then
    redis.call('HDEL', KEYS[3], user)
    if held ~= '' and member then
      redis.call('ZADD', KEYS[1], held, member)
      changed = changed + 1
    end
  end
end
if tonumber(ARGV[1]) > 0 then
  for k = 1, 3 do redis.call('PEXPIREAT', KEYS[k], ARGV[1]) end
end
return changed
