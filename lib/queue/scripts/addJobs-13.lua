-- Adds jobs, all or none (a script runs atomically), and wakes an idle worker. A fixed number
-- of Redis calls per batch, whatever its size (at most 1000 jobs: Lua's unpack() limit).
--   KEYS: wait, delayed, jobs, state, errors, results, progress, dead, completed, seq, wake,
--         events, listening (see includes/queue.lua)
--   ARGV: 5 per job: id, record, maxAttempts, priority, delayMs
-- A job whose id is still waiting, active or delayed is left as it is (dedup by jobId), and so
-- is a repeat of an id within the batch; a dead or completed job with that id is replaced by the
-- new one.
-- Returns how many jobs were added (not deduplicated).
--- @keys wait delayed jobs state errors results progress dead completed seq wake events listening
--- @include "includes/queue"

local now = nowMs()
local ids = {}
for i = 1, #ARGV, 5 do ids[#ids + 1] = ARGV[i] end
local existing = redis.call('HMGET', stateKey, unpack(ids))
local seq = tonumber(redis.call('GET', seqKey) or '0')
local seen, records, states, waiting, delayed = {}, {}, {}, {}, {}
for k, id in ipairs(ids) do
  local i = (k - 1) * 5 + 1
  local exists = existing[k] ~= false or seen[id]
  if existing[k] and not seen[id] and (redis.call('ZREM', deadKey, id) == 1
      or redis.call('ZREM', completedKey, id) == 1) then
    redis.call('HDEL', errorsKey, id)
    redis.call('HDEL', resultsKey, id)
    redis.call('HDEL', progressKey, id)
    exists = false
  end
  if not exists then
    seen[id] = true
    local pri, delay = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
    records[#records + 1] = id
    records[#records + 1] = ARGV[i + 1]
    states[#states + 1] = id
    states[#states + 1] = stateValue(0, ARGV[i + 2], ARGV[i + 3], '')
    if delay > 0 then
      delayed[#delayed + 1] = now + delay
      delayed[#delayed + 1] = id
    else
      seq = seq + 1
      waiting[#waiting + 1] = string.format('%.0f', -pri * PRIORITY_SPAN + seq)
      waiting[#waiting + 1] = id
    end
  end
end
if #records > 0 then
  redis.call('HSET', jobsKey, unpack(records))
  redis.call('HSET', stateKey, unpack(states))
end
if #waiting > 0 then
  redis.call('ZADD', waitKey, unpack(waiting))
  redis.call('SET', seqKey, string.format('%.0f', seq))
end
if #delayed > 0 then redis.call('ZADD', delayedKey, unpack(delayed)) end
for i = 1, #records, 2 do emit('added', records[i], nil, records[i + 1]) end
wake()
return #records / 2
