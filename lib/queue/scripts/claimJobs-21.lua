-- Claims up to ARGV[1] jobs under a lease (fewer under a queue-wide limit), after promoting due
-- delayed jobs and recovering expired leases.
--   KEYS: wait, active, delayed, jobs, state, errors, results, progress, dead, seq, wake, paused,
--         events, listening, limits, starts, gwait, gpos, groups, gactive, schedule
--         (see includes/queue.lua)
--   ARGV[1] how many jobs to claim
--   ARGV[2] lease in ms
--   ARGV[3] how many dead jobs to keep, ARGV[4] for how long in ms (if expired leases bury any)
-- Returns {nextDueInMs, startedAt, schedulerDue, id, record, attempt, token, ...}: nextDueInMs
-- is -1 when jobs were claimed or nothing is scheduled, else how long an idle worker may block;
-- startedAt is the claim's time (Redis clock); schedulerDue is 1 when a scheduler's slot has
-- come (the caller fires it), else 0.
--- @keys wait active delayed jobs state errors results progress dead seq wake paused events listening limits starts gwait gpos groups gactive schedule
--- @include "includes/queue"

local keep = { count = tonumber(ARGV[3]), ms = tonumber(ARGV[4]) }
return claim({}, tonumber(ARGV[1]), tonumber(ARGV[2]), nowMs(), keep)
