--[[
  Renews the lease of a permit, if it is still held with the token.

  KEYS:
    holders  ZSET of the holders' tokens, scored by when their lease ends (ms, Redis time), and
             the limit marker (acquirePermit-3.lua)
  ARGV[1] token of the holder
  ARGV[2] new lease in milliseconds, counted from now

  Returns 1 when renewed, 0 when the permit is no longer held with this token (its lease ended,
  whether or not an acquire has dropped it yet).
]]
--- @keys holders
local token, leaseMs = ARGV[1], ARGV[2]
local time = redis.call('TIME')
local nowMs = time[1] * 1000 + math.floor(time[2] / 1000)
local leaseEnd = redis.call('ZSCORE', holdersKey, token)
if not leaseEnd or tonumber(leaseEnd) <= nowMs then return 0 end
redis.call('ZADD', holdersKey, 'XX', nowMs + leaseMs, token)
redis.call('PEXPIRE', holdersKey, leaseMs, 'GT')
return 1
