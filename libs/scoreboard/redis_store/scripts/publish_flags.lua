-- Write the runtime flags' copy unless the stored copy is as new (redis_store/flags_mirror.py).
-- KEYS: the copy.
-- ARGV: its version, the encoded copy.
-- Returns 1 when written, 0 when the stored copy's version is the same or newer. A damaged copy
-- (not JSON, no version) is replaced.
local stored = redis.call('GET', KEYS[1])
if stored then
  local ok, copy = pcall(cjson.decode, stored)
  if ok and type(copy) == 'table' and type(copy.version) == 'number'
      and copy.version >= tonumber(ARGV[1]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
