-- Removes one job with every trace of it (record, state, errors, result, progress). An active
-- job is removed only when forced: its worker's outcome is then refused and its handler's
-- signal aborts at the next lease renewal.
--   KEYS: wait, active, delayed, completed, dead, jobs, state, errors, results, progress,
--         events, listening (see includes/queue.lua)
--   ARGV[1] job id
--   ARGV[2] 1 to remove it even while active, else 0
-- Returns 1 removed, 0 no such job, -1 refused (active, not forced).
--- @keys wait active delayed completed dead jobs state errors results progress events listening
--- @include "includes/queue"

local id = ARGV[1]
for _, listKey in ipairs({ waitKey, activeKey, delayedKey, completedKey, deadKey }) do
  if redis.call('ZSCORE', listKey, id) then
    if listKey == activeKey and ARGV[2] ~= '1' then return -1 end
    emit('removed', id)
    forget(listKey, { id })
    return 1
  end
end
-- Not in any list: a record left by hand or by an interrupted change; drop it all the same.
if redis.call('HEXISTS', stateKey, id) == 1 or redis.call('HEXISTS', jobsKey, id) == 1 then
  emit('removed', id)
  forget(waitKey, { id })
  return 1
end
return 0
