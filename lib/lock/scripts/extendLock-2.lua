--[[
  Renews the lease of resources held with a token, all or nothing.

  KEYS come in groups of 2, one group per resource:
    KEYS[2i+1] owner key
    KEYS[2i+2] fence key (kept alive with the lease so a resent acquire still finds its token)
  ARGV[1] token of the holder
  ARGV[2] new lease in milliseconds, counted from now

  Returns 1 when renewed, 0 when any resource is no longer held with this token (nothing renewed).
]]
local token = ARGV[1]
for i = 1, #KEYS, 2 do
  if redis.call('GET', KEYS[i]) ~= token then return 0 end
end
for i = 1, #KEYS, 2 do
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
  redis.call('PEXPIRE', KEYS[i + 1], ARGV[2])
end
return 1
