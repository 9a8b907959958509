-- Records a running job's progress, if the caller still holds its lease.
--   KEYS: jobs, state, progress, events, listening (see includes/queue.lua)
--   ARGV[1] job id, ARGV[2] claim token, ARGV[3] encoded progress
-- Returns 1 recorded, 0 refused (the lease was lost: the job went to another worker).
--- @keys jobs state progress events listening
--- @include "includes/queue"

local id = ARGV[1]
local made, _, _, held = readState(id)
if not made or held ~= ARGV[2] then return 0 end
redis.call('HSET', progressKey, id, ARGV[3])
emit('progress', id, ARGV[3])
return 1
