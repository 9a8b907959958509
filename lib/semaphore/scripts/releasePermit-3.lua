--[[
  Frees the permit held with a token (never another holder's) and wakes the waiters it lets in.

  KEYS:
    holders  ZSET of the holders' tokens, scored by when their lease ends (ms, Redis time), and
             the limit marker `#<limit>` scored +inf (acquirePermit-3.lua)
    queue    ZSET of waiting tokens, by arrival
    alive    ZSET of waiting tokens, by entry expiry
  ARGV[1] token of the holder
  ARGV[2] release channel of the semaphore (each waiter's instance gets its own suffix)
  ARGV[3] 'q': the token may also be queued (a waiter giving up): leave the queue too
  ARGV[4] 'SPUBLISH' with sharded pub/sub, else 'PUBLISH' (common/lua/publish.lua)

  With waiters queued, each of the first n is told to retry on its instance's channel, n being
  the permits now free. An idle semaphore (no holder, nobody queued) forgets its limit.
  Returns 1 when a permit was freed, else 0.
]]
--- @keys holders queue alive
--- @include "../../common/lua/publish"
local token = ARGV[1]
local freed = redis.call('ZREM', holdersKey, token)
local left = ARGV[3] == 'q' and redis.call('ZREM', queueKey, token) == 1
if left then redis.call('ZREM', aliveKey, token) end
-- The common case first: nobody waiting.
if redis.call('EXISTS', queueKey) == 0 then
  -- Only the marker left: removing it (the one member scored +inf) deletes the key.
  if redis.call('ZCARD', holdersKey) == 1 then
    redis.call('ZREMRANGEBYSCORE', holdersKey, '+inf', '+inf')
  end
  return freed
end
if freed == 0 and not left then return 0 end

--- @include "../../common/lua/waiterQueue"
local time = redis.call('TIME')
local nowMs = time[1] * 1000 + math.floor(time[2] / 1000)
dropDeadWaiters(queueKey, aliveKey, nowMs)
redis.call('ZREMRANGEBYSCORE', holdersKey, '-inf', nowMs)
local marker = redis.call('ZRANGE', holdersKey, -1, -1)[1]
local limit = marker and string.byte(marker, 1) == 35 and tonumber(string.sub(marker, 2))
-- Without a limit (lost with a Redis restart) the first waiter retries and sets it again.
local free = limit and limit - redis.call('ZCARD', holdersKey) + 1 or 1
if free > 0 then
  for _, waiter in ipairs(redis.call('ZRANGE', queueKey, 0, free - 1)) do
    publish(ARGV[4], waiterChannel(ARGV[2], waiter), waiter)
  end
end
return freed
