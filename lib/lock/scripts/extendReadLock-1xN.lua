--[[
  Renews the read holds of a token, all or nothing.

  KEYS[i] readers of resource i: the read holds (includes/readers.lua)
  ARGV[1] token of the reader
  ARGV[2] new lease in milliseconds, counted from now

  Returns 1 when renewed, 0 when any hold's lease has ended (nothing renewed).
]]
--- @include "includes/readers"
local token, leaseMs = ARGV[1], ARGV[2]
local time = redis.call('TIME')
local nowMs = time[1] * 1000 + math.floor(time[2] / 1000)
for i = 1, #KEYS do
  local leaseEnd = redis.call('ZSCORE', KEYS[i], token)
  if not leaseEnd or tonumber(leaseEnd) <= nowMs then return 0 end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', nowMs + leaseMs, token)
  keepReadersFor(KEYS[i], leaseMs)
end
return 1
