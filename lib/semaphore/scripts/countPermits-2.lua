--[[
  Counts the permits of a semaphore held right now.

  KEYS:
    holders  ZSET of the holders' tokens, scored by when their lease ends (ms, Redis time), and
             the limit marker `#<limit>` scored +inf (acquirePermit-3.lua)
    alive    ZSET of waiting tokens, by entry expiry (ms)
  ARGV[1] limit: the number of permits the caller gives the semaphore

  Returns the number of holders whose lease has not ended, or {-1, limitInUse} when the
  semaphore is in use (a live holder or waiter) with another limit.
]]
--- @keys holders alive
local time = redis.call('TIME')
local nowMs = time[1] * 1000 + math.floor(time[2] / 1000)
local held = redis.call('ZCOUNT', holdersKey, '(' .. nowMs, '(+inf')
local top = redis.call('ZRANGE', holdersKey, -1, -1)[1]
if top and string.byte(top, 1) == 35 and top ~= '#' .. ARGV[1] and
    (held > 0 or redis.call('ZCOUNT', aliveKey, '(' .. nowMs, '+inf') > 0) then
  return { -1, string.sub(top, 2) }
end
return held
