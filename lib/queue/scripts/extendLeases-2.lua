-- Renews the leases of the jobs a worker still holds.
--   KEYS: active, state (see includes/queue.lua)
--   ARGV[1] lease in ms from now
--   ARGV[2..] pairs: job id, claim token
-- Returns the ids whose lease was lost (expired and handed to someone else, or the job is gone).
--- @keys active state
--- @include "includes/queue"

local deadline = nowMs() + tonumber(ARGV[1])
local lost = {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local made, _, _, held = readState(id)
  if made and held == ARGV[i + 1] then
    redis.call('ZADD', activeKey, deadline, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
