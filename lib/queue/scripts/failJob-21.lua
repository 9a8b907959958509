-- Records a failed attempt if the caller still holds the lease: retries after a delay while
-- attempts remain, else moves the job to the dead-letter list, trimmed to its bounds. Then
-- claims the caller's next job(s) in the same round trip.
--   KEYS: wait, active, delayed, jobs, state, errors, results, progress, dead, seq, wake, paused,
--         events, listening, limits, starts, gwait, gpos, groups, gactive, schedule
--         (see includes/queue.lua)
--   ARGV[1] job id
--   ARGV[2] claim token the worker got with the job
--   ARGV[3] error message
--   ARGV[4] retry delay in ms (backoff computed by the worker)
--   ARGV[5] how many jobs to claim next (0: none)
--   ARGV[6] lease in ms for the claimed jobs
--   ARGV[7] how many dead jobs to keep, ARGV[8] for how long in ms
--   ARGV[9] 1: dead at once whatever attempts remain (its record cannot be decoded, so no retry
--           can succeed), else 0
-- Returns {status, nextDueInMs, startedAt, schedulerDue, id, record, attempt, token, ...}:
-- status 1 = will retry, 2 = dead, 0 = refused (the lease expired and the job was handed to
-- someone else); then the claim's reply (see claimJobs).
--- @keys wait active delayed jobs state errors results progress dead seq wake paused events listening limits starts gwait gpos groups gactive schedule
--- @include "includes/queue"

local id, token = ARGV[1], ARGV[2]
local now = nowMs()
local keep = { count = tonumber(ARGV[7]), ms = tonumber(ARGV[8]) }
local status = 0
local made, max, pri, held, group = readState(id)
if made and held == token then
  redis.call('ZREM', activeKey, id)
  recordError(id, made, ARGV[3], now)
  status = retryOrBury(id, made, max, pri, tonumber(ARGV[4]), now, ARGV[9] == '1', ARGV[3], group)
  if status == 2 then trimFinished(deadKey, keep, now) end
end
return claim({ status }, tonumber(ARGV[5]), tonumber(ARGV[6]), now, keep)
