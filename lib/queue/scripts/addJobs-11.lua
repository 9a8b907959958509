-- Adds jobs, all or none (a script runs atomically), and wakes an idle worker.
--   KEYS: the queue's 11 keys (see includes/queue.lua)
--   ARGV: 5 per job: id, record, maxAttempts, priority, delayMs
-- A job whose id is still waiting, active or delayed is left as it is (dedup by jobId); a dead
-- job with that id is replaced by the new one.
-- Returns how many jobs were added (not deduplicated).
--- @include "includes/queue"

local now = nowMs()
local added = 0
for i = 1, #ARGV, 5 do
  local id = ARGV[i]
  local exists = redis.call('HEXISTS', stateKey, id) == 1
  if exists and redis.call('ZREM', deadKey, id) == 1 then
    redis.call('HDEL', errorsKey, id)
    exists = false
  end
  if not exists then
    local pri, delay = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
    redis.call('HSET', jobsKey, id, ARGV[i + 1])
    writeState(id, 0, ARGV[i + 2], pri, '')
    if delay > 0 then
      redis.call('ZADD', delayedKey, now + delay, id)
    else
      enqueue(id, pri, false)
    end
    added = added + 1
  end
end
wake()
return added
