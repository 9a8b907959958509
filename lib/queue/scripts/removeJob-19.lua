-- Removes one job with every trace of it (record, state, errors, result, progress). An active
-- job is removed only when forced: its worker's outcome is then refused and its handler's
-- signal aborts at the next lease renewal.
--   KEYS: wait, active, delayed, completed, dead, jobs, state, errors, results, progress,
--         events, listening, gwait, gpos, groups, gactive, limits, seq, wake
--         (see includes/queue.lua)
--   ARGV[1] job id
--   ARGV[2] 1 to remove it even while active, else 0
--   ARGV[3] 'completed' or 'dead' to remove it only from that list, else ''
-- Returns 1 removed, 0 no such job (or not in that list), -1 refused (active, not forced).
--- @keys wait active delayed completed dead jobs state errors results progress events listening gwait gpos groups gactive limits seq wake
--- @include "includes/queue"

local id = ARGV[1]
local listKey = nil
for _, key in ipairs({ waitKey, activeKey, delayedKey, completedKey, deadKey }) do
  if redis.call('ZSCORE', key, id) then
    listKey = key
    break
  end
end
if ARGV[3] == 'dead' and listKey ~= deadKey then return 0 end
if ARGV[3] == 'completed' and listKey ~= completedKey then return 0 end
if listKey == activeKey and ARGV[2] ~= '1' then return -1 end
local grouped = unqueueGrouped(id)
-- Not in any list: a record left by hand or by an interrupted change is dropped all the same.
if not listKey and not grouped and redis.call('HEXISTS', stateKey, id) == 0
    and redis.call('HEXISTS', jobsKey, id) == 0 then
  return 0
end
emit('removed', id)
if listKey == activeKey then
  local _, _, _, _, group = readState(id)
  if group then leaveGroup(group) end
end
forget(listKey or waitKey, { id })
return 1
