--[[
  Renews the lease of resources held with a token, all or nothing.

  KEYS[i] owner key of resource i (owner value: includes/owner.lua)
  ARGV[1] token of the holder
  ARGV[2] new lease in milliseconds, counted from now

  Returns 1 when renewed, 0 when any resource is no longer held with this token (nothing renewed).
]]
--- @include "includes/owner"
local token = ARGV[1]
for i = 1, #KEYS do
  if not holds(redis.call('GET', KEYS[i]), token) then return 0 end
end
for i = 1, #KEYS do
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 1
