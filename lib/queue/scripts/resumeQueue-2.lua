-- Resumes a paused queue and wakes an idle worker.
--   KEYS: wake, paused (see includes/queue.lua)
-- Returns 1 if the queue was paused, else 0.
--- @keys wake paused
--- @include "includes/queue"

local was = redis.call('DEL', pausedKey)
wake()
return was
