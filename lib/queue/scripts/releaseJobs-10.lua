-- Hands jobs a stopping worker still holds back to the front of wait at once (not after lease
-- expiry). The interrupted attempt is not counted: the job did not fail.
--   KEYS: wait, active, state, seq, wake, gwait, gpos, groups, gactive, limits
--         (see includes/queue.lua)
--   ARGV: pairs: job id, claim token
-- Returns how many jobs were handed back.
--- @keys wait active state seq wake gwait gpos groups gactive limits
--- @include "includes/queue"

local released = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  local made, max, pri, held, group = readState(id)
  if made and held == ARGV[i + 1] then
    redis.call('ZREM', activeKey, id)
    writeState(id, math.max(0, made - 1), max, pri, '', group)
    leaveGroup(group)
    enqueue(id, pri, true, group)
    released = released + 1
  end
end
if released > 0 then wake() end
return released
