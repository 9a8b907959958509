-- Sets or clears a queue's queue-wide limits, and wakes an idle worker in case they rose.
--   KEYS: limits, wait, wake (see includes/queue.lua)
--   ARGV: pairs: field (concurrency, rateMax, rateMs), value ('' clears it)
--- @keys limits wait wake
--- @include "includes/queue"

for i = 1, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', limitsKey, ARGV[i])
  else
    redis.call('HSET', limitsKey, ARGV[i], ARGV[i + 1])
  end
end
if redis.call('ZCARD', waitKey) > 0 then wake() end
return 1
