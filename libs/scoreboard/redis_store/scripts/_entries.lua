-- Library, not a script: a script includes it by naming it on an include line (scripts/__init__.py).
-- How a board window holds one user's entry, for apply.lua and finish_rebuild.lua alike.

-- The user's entry in a board window: their member (false when none), their score (from
-- `hidden` when they are hidden, else from the ranking; nil when they have none), whether they
-- are hidden, and the version of that score (0: from before versions).
local function held_entry(ranking, members, versions, hidden, user)
  local member = redis.call('HGET', members, user)
  local hidden_score = redis.call('HGET', hidden, user)
  local score = nil
  if hidden_score then
    score = tonumber(hidden_score)
  elseif member then
    score = tonumber(redis.call('ZSCORE', ranking, member))
  end
  return member, score, hidden_score ~= false, tonumber(redis.call('HGET', versions, user) or '0')
end

-- Whether (score, version) replaces what is held: a higher version (the id of the event that
-- made it: an adjustment may lower a score), or, at an equal version, a higher score.
local function replaces(score, version, held_score, held_version)
  return held_score == nil or version > held_version or (version == held_version and score > held_score)
end
