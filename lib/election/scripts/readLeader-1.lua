--[[
  Reads an election's leader lease, both parts at one instant.

  KEYS[1] the lease's owner key (a lock owner value: `<token>#<seconds>.<microseconds>`, see
          lib/lock/scripts/includes/owner.lua)

  Returns {remaining lease in ms, owner value}, or {-2} when nobody holds the lease.
]]
--- @keys lease
local remaining = redis.call('PTTL', leaseKey)
if remaining < 0 then return { remaining } end
return { remaining, redis.call('GET', leaseKey) }
