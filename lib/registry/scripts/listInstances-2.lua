--[[
  The live instances of a service. Instances whose lease ran out (a crashed process stops
  renewing) are removed first, and their removal announced, so every reader sees them go.

  KEYS[1]  the service's instances (sorted set of ids by lease end, ms on the Redis clock)
  KEYS[2]  the service's instance records (hash id -> JSON)
  ARGV[1]  the channel announcing changes of the service's instances
  ARGV[2]  'SPUBLISH' with sharded pub/sub, else 'PUBLISH' (common/lua/publish.lua)

  Returns a flat list: id, record, id, record, ... in id order.
]]
--- @keys instances records
--- @include "../../common/lua/publish"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', instancesKey, '-inf', now)
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', instancesKey, '-inf', now)
  for _, id in ipairs(expired) do
    redis.call('HDEL', recordsKey, id)
  end
  publish(ARGV[2], ARGV[1], 'expired')
end
local live = redis.call('ZRANGE', instancesKey, 0, -1)
local reply = {}
if #live > 0 then
  local records = redis.call('HMGET', recordsKey, unpack(live))
  for i, id in ipairs(live) do
    if records[i] then
      reply[#reply + 1] = id
      reply[#reply + 1] = records[i]
    end
  end
end
return reply
