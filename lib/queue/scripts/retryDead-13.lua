-- Moves dead-letter jobs back to wait with a fresh set of attempts (their error history kept).
--   KEYS: wait, jobs, state, dead, seq, wake, events, listening, gwait, gpos, groups, gactive,
--         limits (see includes/queue.lua)
--   ARGV: the ids to retry; none = every dead job
-- Returns how many jobs were moved.
--- @keys wait jobs state dead seq wake events listening gwait gpos groups gactive limits
--- @include "includes/queue"

local ids = ARGV
if #ids == 0 then ids = redis.call('ZRANGE', deadKey, 0, -1) end
local moved = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', deadKey, id) == 1 then
    local made, max, pri, _, group = readState(id)
    if made then
      writeState(id, 0, max, pri, '', group)
      enqueue(id, pri, false, group)
      moved = moved + 1
      emit('retrying', id, 'retried from the dead-letter list')
    end
  end
end
if moved > 0 then wake() end
return moved
