-- Sets or clears a queue's queue-wide limits, and wakes an idle worker in case they rose.
--   KEYS: limits, wait, wake, seq, gwait, groups, gactive (see includes/queue.lua)
--   ARGV: pairs: field (concurrency, rateMax, rateMs, groupConcurrency), value ('' clears it)
--- @keys limits wait wake seq gwait groups gactive
--- @include "includes/queue"

for i = 1, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', limitsKey, ARGV[i])
  else
    redis.call('HSET', limitsKey, ARGV[i], ARGV[i + 1])
  end
end
-- Groups held back at a lower per-group limit (they have active jobs) may be served again.
local limit = groupLimit()
for _, group in ipairs(redis.call('HKEYS', gactiveKey)) do markReady(group, limit) end
if redis.call('ZCARD', waitKey) > 0 or redis.call('EXISTS', groupsKey) == 1 then wake() end
return 1
