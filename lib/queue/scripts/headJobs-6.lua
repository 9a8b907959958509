-- The jobs first in line, to tell how long the queue's oldest waiting job has waited: the first
-- job of each priority level among the jobs without a group and within each group (a job behind
-- another of its level entered wait later: FIFO), and the delayed job most overdue (one no
-- worker has moved to wait yet).
--   KEYS: wait, gwait, jobs, errors, state, delayed (see includes/queue.lua)
--   ARGV[1] most jobs to return
-- Returns {now (ms, Redis clock), overdue id or false, its due time or false,
--          id, record header, errors (nil if none), state, ...}, 4 per job.
--- @keys wait gwait jobs errors state delayed
--- @include "includes/queue"

local most = tonumber(ARGV[1])
local now = nowMs()
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

-- gwait members sort by group, then by level (4 digits, 1000 - priority), then order
-- (groupMember): the first member from `[group \0 next level` on is the next level's head, or
-- the next group's.
local after = '-'
while #heads < most do
  local member = redis.call('ZRANGEBYLEX', gwaitKey, after, '+', 'LIMIT', 0, 1)[1]
  if not member then break end
  heads[#heads + 1] = memberId(member)
  local groupEnd = string.find(member, '\0', 1, true)
  local level = tonumber(string.sub(member, groupEnd + 1, groupEnd + 4))
  after = '[' .. string.sub(member, 1, groupEnd) .. string.format('%04d', level + 1)
end

local overdue = redis.call('ZRANGEBYSCORE', delayedKey, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
local reply = { now, overdue[1] or false, overdue[2] or false }
for _, id in ipairs(heads) do
  local record = redis.call('HGET', jobsKey, id)
  local header = record and string.sub(record, 1, (string.find(record, '\n', 1, true) or 0) - 1)
  reply[#reply + 1] = id
  reply[#reply + 1] = header or false
  reply[#reply + 1] = redis.call('HGET', errorsKey, id)
  reply[#reply + 1] = redis.call('HGET', stateKey, id)
end
return reply
