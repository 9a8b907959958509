-- The jobs first in line, to tell how long the queue's oldest waiting job has waited: the first
-- job of each priority level among the jobs without a group, and the first job of each group.
-- A job behind another of its level or group has waited less (FIFO), except behind a job handed
-- back to the front (a worker shutting down), which may have waited less than the next one.
--   KEYS: wait, gwait, jobs, errors (see includes/queue.lua)
--   ARGV[1] most jobs to return
-- Returns {now (ms, Redis clock), id, record header, errors (nil if none), ...}, 3 per job.
--- @keys wait gwait jobs errors
--- @include "includes/queue"

local most = tonumber(ARGV[1])
local heads = {}

-- A level's scores lie in [-priority * PRIORITY_SPAN, (1 - priority) * PRIORITY_SPAN).
local from = '-inf'
while #heads < most do
  local first = redis.call('ZRANGEBYSCORE', waitKey, from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #first == 0 then break end
  heads[#heads + 1] = first[1]
  local level = math.floor(tonumber(first[2]) / PRIORITY_SPAN)
  from = string.format('%.0f', (level + 1) * PRIORITY_SPAN)
end

-- gwait members sort by group, then within a group by priority and order: the first member
-- from `[group \1` on is the next group's head.
local after = '-'
while #heads < most do
  local member = redis.call('ZRANGEBYLEX', gwaitKey, after, '+', 'LIMIT', 0, 1)[1]
  if not member then break end
  heads[#heads + 1] = memberId(member)
  after = '[' .. string.sub(member, 1, string.find(member, '\0', 1, true) - 1) .. '\1'
end

local reply = { nowMs() }
for _, id in ipairs(heads) do
  local record = redis.call('HGET', jobsKey, id)
  local header = record and string.sub(record, 1, (string.find(record, '\n', 1, true) or 0) - 1)
  reply[#reply + 1] = id
  reply[#reply + 1] = header or false
  reply[#reply + 1] = redis.call('HGET', errorsKey, id)
end
return reply
