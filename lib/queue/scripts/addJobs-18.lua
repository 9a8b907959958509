-- Adds jobs, all or none (a script runs atomically), and wakes an idle worker. A fixed number
-- of Redis calls per batch, whatever its size (at most 1000 jobs: Lua's unpack() limit).
--   KEYS: wait, delayed, jobs, state, errors, results, progress, dead, completed, seq, wake,
--         events, listening, gwait, gpos, groups, gactive, limits (see includes/queue.lua)
--   ARGV: 6 per job: id, record, maxAttempts, priority, delayMs, group ('' for none)
-- A job whose id is still waiting, active or delayed is left as it is (dedup by jobId), and so
-- is a repeat of an id within the batch; a dead or completed job with that id is replaced by the
-- new one.
-- Returns how many jobs were added (not deduplicated).
--- @keys wait delayed jobs state errors results progress dead completed seq wake events listening gwait gpos groups gactive limits
--- @include "includes/queue"

return addJobs(nowMs(), ARGV)
