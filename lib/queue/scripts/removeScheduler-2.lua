-- Removes a scheduler; the jobs it already created stay.
--   KEYS: schedulers, schedule (see includes/queue.lua)
--   ARGV[1] scheduler id
-- Returns 1 if it existed, else 0.
--- @keys schedulers schedule

redis.call('ZREM', scheduleKey, ARGV[1])
return redis.call('HDEL', schedulersKey, ARGV[1])
