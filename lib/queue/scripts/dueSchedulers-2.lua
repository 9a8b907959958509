-- Reads the schedulers whose slot has come (Redis clock), for the worker to compute each one's
-- next slot and fire it (fireSchedulers).
--   KEYS: schedulers, schedule (see includes/queue.lua)
--   ARGV[1] how many at most
-- Returns {now (ms, Redis clock), id, slot (ms), definition JSON, ...}.
--- @keys schedulers schedule
--- @include "includes/queue"

local now = nowMs()
local due = redis.call('ZRANGEBYSCORE', scheduleKey, '-inf', now, 'WITHSCORES', 'LIMIT', 0,
  tonumber(ARGV[1]))
local reply = { now }
for i = 1, #due, 2 do
  reply[#reply + 1] = due[i]
  reply[#reply + 1] = due[i + 1]
  reply[#reply + 1] = redis.call('HGET', schedulersKey, due[i])
end
return reply
