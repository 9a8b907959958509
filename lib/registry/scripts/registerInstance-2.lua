--[[
  Registers an instance of a service, or renews its registration (the heartbeat): its lease runs
  `ttlMs` from now on the Redis clock.

  KEYS[1]  the service's instances: a sorted set of instance ids scored by lease end (ms)
  KEYS[2]  the service's instance records: a hash of instance id -> JSON
           { address, metadata, registeredAt, status: 'up' | 'down' (its health check) }
  ARGV[1]  instance id
  ARGV[2]  the instance's record (JSON)
  ARGV[3]  lease in ms
  ARGV[4]  the channel announcing changes of the service's instances
  ARGV[5]  'SPUBLISH' with sharded pub/sub, else 'PUBLISH' (common/lua/publish.lua)

  Returns 1 when the instance was not registered (first registration, or its lease had run out
  and a reader removed it), announced on the channel; 0 for a renewal, announced only when it
  changes the record (the instance turned down or up again).
]]
--- @keys instances records
--- @include "../../common/lua/publish"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local changed = redis.call('HGET', recordsKey, ARGV[1]) ~= ARGV[2]
local added = redis.call('ZADD', instancesKey, now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', recordsKey, ARGV[1], ARGV[2])
if added == 1 then
  publish(ARGV[5], ARGV[4], 'up')
elseif changed then
  publish(ARGV[5], ARGV[4], 'changed')
end
return added
