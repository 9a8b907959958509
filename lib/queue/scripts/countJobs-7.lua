-- Counts a queue's jobs by state, in one consistent snapshot.
--   KEYS: wait, active, delayed, completed, dead, paused, gwait (see includes/queue.lua)
-- Returns {waiting, active, delayed, completed, dead, paused (0/1)}.
--- @keys wait active delayed completed dead paused gwait
--- @include "includes/queue"

return {
  redis.call('ZCARD', waitKey) + redis.call('ZCARD', gwaitKey),
  redis.call('ZCARD', activeKey),
  redis.call('ZCARD', delayedKey),
  redis.call('ZCARD', completedKey),
  redis.call('ZCARD', deadKey),
  redis.call('EXISTS', pausedKey),
}
