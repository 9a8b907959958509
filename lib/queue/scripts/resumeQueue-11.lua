-- Resumes a paused queue and wakes an idle worker.
--   KEYS: the queue's 11 keys (see includes/queue.lua)
-- Returns 1 if the queue was paused, else 0.
--- @include "includes/queue"

local was = redis.call('DEL', pausedKey)
wake()
return was
