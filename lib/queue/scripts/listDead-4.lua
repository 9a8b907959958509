-- Lists dead-letter jobs, most recent first.
--   KEYS: jobs, state, errors, dead (see includes/queue.lua)
--   ARGV[1] how many at most
-- Returns {id, diedAt, record, attemptsMade, maxAttempts, errors, ...}; record and errors may be
-- nil. The attempt counts come from the state, readable even when the record is not.
--- @keys jobs state errors dead
--- @include "includes/queue"

local reply = {}
local dead = redis.call('ZREVRANGE', deadKey, 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
for i = 1, #dead, 2 do
  local id = dead[i]
  reply[#reply + 1] = id
  reply[#reply + 1] = dead[i + 1]
  local made, max = readState(id)
  reply[#reply + 1] = redis.call('HGET', jobsKey, id)
  reply[#reply + 1] = made or 0
  reply[#reply + 1] = max or 0
  reply[#reply + 1] = redis.call('HGET', errorsKey, id)
end
return reply
