-- Completes a job if the caller still holds its lease, keeps a bounded record of completions,
-- and claims the caller's next job(s) in the same round trip.
--   KEYS: the queue's 11 keys (see includes/queue.lua)
--   ARGV[1] job id
--   ARGV[2] claim token the worker got with the job
--   ARGV[3] how many completed ids to keep
--   ARGV[4] how long to keep completed ids, in ms
--   ARGV[5] how many jobs to claim next (0: none)
--   ARGV[6] lease in ms for the claimed jobs
-- Returns {status, nextDueInMs, id, record, attempt, token, ...}: status 1 = completed,
-- 0 = refused (the lease expired and the job was handed to someone else, or it is gone).
--- @include "includes/queue"

local id, token = ARGV[1], ARGV[2]
local now = nowMs()
local status = 0
local made, _, _, held = readState(id)
if made and held == token then
  redis.call('ZREM', activeKey, id)
  redis.call('HDEL', jobsKey, id)
  redis.call('HDEL', stateKey, id)
  redis.call('HDEL', errorsKey, id)
  redis.call('ZADD', completedKey, now, id)
  local keep = tonumber(ARGV[3])
  local extra = redis.call('ZCARD', completedKey) - keep
  if extra > 0 then redis.call('ZREMRANGEBYRANK', completedKey, 0, extra - 1) end
  redis.call('ZREMRANGEBYSCORE', completedKey, '-inf', now - tonumber(ARGV[4]))
  status = 1
end
local reply = claim({}, tonumber(ARGV[5]), tonumber(ARGV[6]), now)
table.insert(reply, 1, status)
return reply
