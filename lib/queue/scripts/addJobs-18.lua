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

local now = nowMs()
local ids = {}
for i = 1, #ARGV, 6 do ids[#ids + 1] = ARGV[i] end
local existing = redis.call('HMGET', stateKey, unpack(ids))
local seq = tonumber(redis.call('GET', seqKey) or '0')
local seen, records, states, waiting, delayed = {}, {}, {}, {}, {}
-- Jobs of groups: their gwait members, positions, and the groups to put in the rotation, in
-- the order they first appear.
local grouped, positions, groups, inGroups = {}, {}, {}, {}
local firstSeq = seq
for k, id in ipairs(ids) do
  local i = (k - 1) * 6 + 1
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
    local pri, delay, group = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), ARGV[i + 5]
    records[#records + 1] = id
    records[#records + 1] = ARGV[i + 1]
    states[#states + 1] = id
    states[#states + 1] = stateValue(0, ARGV[i + 2], ARGV[i + 3], '', group)
    if delay > 0 then
      delayed[#delayed + 1] = now + delay
      delayed[#delayed + 1] = id
    elseif group ~= '' then
      seq = seq + 1
      local member = groupMember(group, pri, seq, id)
      grouped[#grouped + 1] = 0
      grouped[#grouped + 1] = member
      positions[#positions + 1] = id
      positions[#positions + 1] = member
      if not inGroups[group] then
        inGroups[group] = true
        groups[#groups + 1] = group
      end
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
if #waiting > 0 then redis.call('ZADD', waitKey, unpack(waiting)) end
if #grouped > 0 then
  redis.call('ZADD', gwaitKey, unpack(grouped))
  redis.call('HSET', gposKey, unpack(positions))
end
if seq > firstSeq then redis.call('SET', seqKey, string.format('%.0f', seq)) end
-- After the SET: markReady() takes its turn numbers from the same counter.
if #groups > 0 then
  local limit = groupLimit()
  for _, group in ipairs(groups) do markReady(group, limit) end
end
if #delayed > 0 then redis.call('ZADD', delayedKey, unpack(delayed)) end
for i = 1, #records, 2 do emit('added', records[i], nil, records[i + 1]) end
wake()
return #records / 2
