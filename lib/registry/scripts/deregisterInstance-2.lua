--[[
  Removes an instance of a service at once (graceful shutdown).

  KEYS[1]  the service's instances (sorted set of ids by lease end)
  KEYS[2]  the service's instance records (hash id -> JSON)
  ARGV[1]  instance id
  ARGV[2]  the channel announcing changes of the service's instances
  ARGV[3]  'SPUBLISH' with sharded pub/sub, else 'PUBLISH' (common/lua/publish.lua)

  Returns 1 when it was registered (and the removal is announced), else 0.
]]
--- @keys instances records
--- @include "../../common/lua/publish"
local removed = redis.call('ZREM', instancesKey, ARGV[1])
redis.call('HDEL', recordsKey, ARGV[1])
if removed == 1 then
  publish(ARGV[3], ARGV[2], 'down')
end
return removed
