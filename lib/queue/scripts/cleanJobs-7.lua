-- Deletes finished jobs (completed or dead) that finished at least ARGV[2] ms ago, oldest
-- first, at most ARGV[3] of them, with every trace of them.
--   KEYS: completed, dead, jobs, state, errors, results, progress (see includes/queue.lua)
--   ARGV[1] the list: completed or dead
--   ARGV[2] minimum age in ms
--   ARGV[3] most jobs to delete
-- Returns how many jobs were deleted.
--- @keys completed dead jobs state errors results progress
--- @include "includes/queue"

local listKey = completedKey
if ARGV[1] == 'dead' then listKey = deadKey end
local old = redis.call('ZRANGEBYSCORE', listKey, '-inf', nowMs() - tonumber(ARGV[2]),
  'LIMIT', 0, tonumber(ARGV[3]))
if #old > 0 then forget(listKey, old) end
return #old
