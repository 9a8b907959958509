-- Completes the jobs the caller still holds the lease of, keeps a bounded record of
-- completions, and claims the caller's next jobs, all in one round trip with a fixed number of
-- Redis calls whatever the batch size.
--   KEYS: wait, active, delayed, jobs, state, errors, dead, completed, seq, wake, paused (see includes/queue.lua)
--   ARGV[1] how many completed ids to keep
--   ARGV[2] how long to keep completed ids, in ms
--   ARGV[3] how many jobs to claim next (0: none)
--   ARGV[4] lease in ms for the claimed jobs
--   ARGV[5] how many dead jobs to keep, ARGV[6] for how long in ms (if expired leases bury any)
--   ARGV[7..] pairs: job id, claim token the worker got with it
-- Returns {status, ..., nextDueInMs, id, record, attempt, token, ...}: one status per job in
-- ARGV order, 1 = completed, 0 = refused (the lease expired and the job was handed to someone
-- else, or it is gone).
--- @keys wait active delayed jobs state errors dead completed seq wake paused
--- @include "includes/queue"

local now = nowMs()
local ids, tokens = {}, {}
for i = 7, #ARGV, 2 do
  ids[#ids + 1] = ARGV[i]
  tokens[#tokens + 1] = ARGV[i + 1]
end
local states = redis.call('HMGET', stateKey, unpack(ids))
local statuses, done, record = {}, {}, {}
for i, id in ipairs(ids) do
  local made, _, _, held = parseState(states[i])
  if made and held == tokens[i] then
    statuses[i] = 1
    done[#done + 1] = id
    record[#record + 1] = now
    record[#record + 1] = id
  else
    statuses[i] = 0
  end
end
if #done > 0 then
  redis.call('ZREM', activeKey, unpack(done))
  redis.call('HDEL', jobsKey, unpack(done))
  redis.call('HDEL', stateKey, unpack(done))
  redis.call('HDEL', errorsKey, unpack(done))
  redis.call('ZADD', completedKey, unpack(record))
  -- Keep the newest ARGV[1] ids (a negative end rank counts from the newest).
  redis.call('ZREMRANGEBYRANK', completedKey, 0, -tonumber(ARGV[1]) - 1)
  redis.call('ZREMRANGEBYSCORE', completedKey, '-inf', now - tonumber(ARGV[2]))
end
local keep = { count = tonumber(ARGV[5]), ms = tonumber(ARGV[6]) }
return claim(statuses, tonumber(ARGV[3]), tonumber(ARGV[4]), now, keep)
