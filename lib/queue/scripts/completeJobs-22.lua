-- Completes the jobs the caller still holds the lease of, keeps them (record, result) in the
-- bounded completed list, and claims the caller's next jobs, all in one round trip with a fixed
-- number of Redis calls whatever the batch size (trimming aside).
--   KEYS: wait, active, delayed, jobs, state, errors, results, progress, dead, completed, seq,
--         wake, paused, events, listening, limits, starts, gwait, gpos, groups, gactive, schedule
--         (see includes/queue.lua)
--   ARGV[1] how many completed jobs to keep
--   ARGV[2] how long to keep completed jobs, in ms
--   ARGV[3] how many jobs to claim next (0: none)
--   ARGV[4] lease in ms for the claimed jobs
--   ARGV[5] how many dead jobs to keep, ARGV[6] for how long in ms (if expired leases bury any)
--   ARGV[7..] triples: job id, claim token the worker got with it, return value ('' for none,
--             else '=' followed by the encoded value)
-- Returns {status, ..., nextDueInMs, startedAt, schedulerDue, id, record, attempt, token, ...}:
-- one status per job in ARGV order, 1 = completed, 0 = refused (the lease expired and the job was
-- handed to someone else, or it is gone); then the claim's reply (see claimJobs).
--- @keys wait active delayed jobs state errors results progress dead completed seq wake paused events listening limits starts gwait gpos groups gactive schedule
--- @include "includes/queue"

local COMPLETED_SLACK_MAX = 100

local now = nowMs()
local ids, tokens, values = {}, {}, {}
for i = 7, #ARGV, 3 do
  ids[#ids + 1] = ARGV[i]
  tokens[#tokens + 1] = ARGV[i + 1]
  values[#values + 1] = ARGV[i + 2]
end
local states = redis.call('HMGET', stateKey, unpack(ids))
local statuses, done, finished, newStates, results = {}, {}, {}, {}, {}
for i, id in ipairs(ids) do
  local unheld, held, group = unheldState(states[i])
  if held == tokens[i] then
    statuses[i] = 1
    done[#done + 1] = id
    finished[#finished + 1] = now
    finished[#finished + 1] = id
    newStates[#newStates + 1] = id
    newStates[#newStates + 1] = unheld
    leaveGroup(group)
    local value = string.sub(values[i], 2)
    if values[i] ~= '' then
      results[#results + 1] = id
      results[#results + 1] = value
    end
    emit('completed', id, value)
  else
    statuses[i] = 0
  end
end
if #done > 0 then
  redis.call('ZREM', activeKey, unpack(done))
  redis.call('HSET', stateKey, unpack(newStates))
  if #results > 0 then redis.call('HSET', resultsKey, unpack(results)) end
  redis.call('ZADD', completedKey, unpack(finished))
  -- Completion is the hot path: the count is trimmed in batches of a tenth of it (at most 100).
  local count = tonumber(ARGV[1])
  local slack = math.min(COMPLETED_SLACK_MAX, math.floor(count / 10))
  trimFinished(completedKey, { count = count, ms = tonumber(ARGV[2]), slack = slack }, now)
end
local keep = { count = tonumber(ARGV[5]), ms = tonumber(ARGV[6]) }
return claim(statuses, tonumber(ARGV[3]), tonumber(ARGV[4]), now, keep)
