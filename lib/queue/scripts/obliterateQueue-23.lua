-- Deletes a whole queue: every job in every state, its counters, its pause flag, its events and
-- its schedulers.
-- Refused while jobs are active, unless forced (their workers' outcomes are then refused). The
-- keys are unlinked: Redis frees large ones in the background, so the call stays short.
--   KEYS: every key of the queue (see includes/queue.lua)
--   ARGV[1] 1 to delete even while jobs are active, else 0
-- Returns how many keys existed and were deleted, or -1 when refused.
--- @keys wait active delayed jobs state errors results progress dead completed seq wake paused events listening limits starts gwait gpos groups gactive schedulers schedule

if ARGV[1] ~= '1' and redis.call('ZCARD', activeKey) > 0 then return -1 end
return redis.call('UNLINK', unpack(KEYS))
