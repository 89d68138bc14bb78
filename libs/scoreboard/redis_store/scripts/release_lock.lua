-- Release a lock only if it is still ours (it may have expired and been taken by another).
-- KEYS: the lock.
-- ARGV: our token.
-- Returns 1 when released, 0 when the lock was not ours.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
