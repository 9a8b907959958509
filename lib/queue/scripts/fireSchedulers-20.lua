-- Fires due schedulers. For each (id, slot, next slot): only if the scheduler's next slot is
-- still `slot` (compare-and-set: of the workers and instances racing to fire it, one wins),
-- adds the slot's job, id `<scheduler id>:<slot>`, through the same code as addJobs, records
-- the slot as fired and moves the scheduler to its next slot, in this one script: a slot's job
-- exists if and only if the scheduler has moved past it. A slot at or before the last one fired
-- (an upsert that changed the pattern raced a firing) moves on without a job.
--   KEYS: wait, delayed, jobs, state, errors, results, progress, dead, completed, seq, wake,
--         events, listening, gwait, gpos, groups, gactive, limits, schedulers, schedule
--         (see includes/queue.lua)
--   ARGV: triples: scheduler id, slot (ms, as dueSchedulers read it), next slot (ms)
-- Returns one status per triple: 1 fired; 0 refused (fired, moved or removed since it was read);
-- 2 moved on without a job, the slot was fired already; 3 moved on without a job, the
-- definition is unreadable (written by hand).
--- @keys wait delayed jobs state errors results progress dead completed seq wake events listening gwait gpos groups gactive limits schedulers schedule
--- @include "includes/queue"

-- The job's record: the template's, stamped with the time it was added (as add() does).
local function stamped(record, now)
  local split = string.find(record, '\n', 1, true)
  if not split then return nil end
  local ok, header = pcall(cjson.decode, string.sub(record, 1, split - 1))
  if not ok or type(header) ~= 'table' then return nil end
  header.t = now
  return cjson.encode(header) .. string.sub(record, split)
end

local now = nowMs()
local statuses, jobs = {}, {}
for i = 1, #ARGV, 3 do
  local id, slot, nextSlot = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local status = 0
  local current = redis.call('ZSCORE', scheduleKey, id)
  local stored = redis.call('HGET', schedulersKey, id)
  if current and not stored then
    -- Removed by hand: removeScheduler deletes both entries.
    redis.call('ZREM', scheduleKey, id)
  elseif current and tonumber(current) == tonumber(slot) then
    local ok, definition = pcall(cjson.decode, stored)
    local job = ok and type(definition) == 'table' and definition.job
    local record = type(job) == 'table' and type(job.record) == 'string'
      and stamped(job.record, now)
    if not record then
      status = 3
    elseif definition.lastSlot and tonumber(slot) <= definition.lastSlot then
      status = 2
    else
      local jobId = id .. ':' .. slot
      jobs[#jobs + 1] = jobId
      jobs[#jobs + 1] = record
      jobs[#jobs + 1] = job.attempts
      jobs[#jobs + 1] = job.priority
      jobs[#jobs + 1] = 0
      jobs[#jobs + 1] = job.group or ''
      definition.lastSlot, definition.lastJobId = tonumber(slot), jobId
      redis.call('HSET', schedulersKey, id, cjson.encode(definition))
      status = 1
    end
    redis.call('ZADD', scheduleKey, nextSlot, id)
  end
  statuses[#statuses + 1] = status
end
if #jobs > 0 then addJobs(now, jobs) end
return statuses
