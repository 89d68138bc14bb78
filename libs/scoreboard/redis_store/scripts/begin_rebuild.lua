-- A full rebuild (services.worker.reconciler.rebuild) fills the temporary rebuild keys with plain
-- bulk ZADD/HSET while the API keeps writing through to the live keys, then swaps them in with
-- finish_rebuild.lua. This one clears them first.
-- KEYS: ranking, members, ready, rebuild ranking, rebuild members, rebuild lock, versions, hidden,
-- rebuild versions, rebuild hidden (one board: one hash slot).
-- ARGV: lock token.
-- Returns 1, or 0 when the lock is not ours or the board is ready after all (someone else built it).
-- The live keys are cleared too: while `ready` is missing nobody reads them, and everything in
-- them was committed to PostgreSQL before this point, so the rebuild reads it again; what is
-- written to them from now on is merged at the end. That bounds the final merge to those writes.
if redis.call('GET', KEYS[6]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[4], KEYS[5], KEYS[7], KEYS[8], KEYS[9], KEYS[10])
return 1
