-- Creates or updates a scheduler. With the same pattern as stored, its next slot is kept, so
-- any number of instances upserting it at boot neither reset nor duplicate it; a new scheduler,
-- or a changed pattern, starts at ARGV[3]. The template is replaced either way: the next job
-- uses it. The slot last fired is kept whatever changes (fireSchedulers never fires a slot at
-- or before it again). Wakes an idle worker, so it blocks until the new slot at most.
--   KEYS: schedulers, schedule, wake (see includes/queue.lua)
--   ARGV[1] scheduler id
--   ARGV[2] definition JSON: { key (the pattern, canonical), pattern, template, job }
--   ARGV[3] first slot (ms) for a new scheduler or a changed pattern
-- Returns {next slot, 1 if it was kept else 0}.
--- @keys schedulers schedule wake
--- @include "includes/queue"

local id = ARGV[1]
local definition = cjson.decode(ARGV[2])
local slot, kept = ARGV[3], 0
local stored = redis.call('HGET', schedulersKey, id)
if stored then
  -- An unreadable definition (written by hand) is replaced as if new.
  local ok, old = pcall(cjson.decode, stored)
  if ok and type(old) == 'table' then
    definition.lastSlot, definition.lastJobId = old.lastSlot, old.lastJobId
    local current = redis.call('ZSCORE', scheduleKey, id)
    if current and old.key == definition.key then slot, kept = current, 1 end
  end
end
redis.call('HSET', schedulersKey, id, cjson.encode(definition))
redis.call('ZADD', scheduleKey, slot, id)
wake()
return { slot, kept }
