-- Lists a queue's schedulers, by next slot.
--   KEYS: schedulers, schedule (see includes/queue.lua)
-- Returns {id, definition JSON, next slot (ms), ...}.
--- @keys schedulers schedule

local schedule = redis.call('ZRANGE', scheduleKey, 0, -1, 'WITHSCORES')
local reply = {}
if #schedule == 0 then return reply end
local ids = {}
for i = 1, #schedule, 2 do ids[#ids + 1] = schedule[i] end
local definitions = redis.call('HMGET', schedulersKey, unpack(ids))
for i, id in ipairs(ids) do
  reply[#reply + 1] = id
  reply[#reply + 1] = definitions[i]
  reply[#reply + 1] = schedule[i * 2]
end
return reply
