--[[
  Takes a permit of a semaphore when one is free and no earlier waiter needs it; otherwise reports
  it busy and, if asked, queues the caller.

  KEYS:
    holders  ZSET of the holders' tokens, scored by when their lease ends (ms, Redis time)
    queue    ZSET of waiting tokens, by arrival (us)
    alive    ZSET of waiting tokens, by when their entry expires unless the waiter retries (ms)
    limit    the number of permits the semaphore is in use with; outlives its holders and waiters
  ARGV[1] token of this acquisition
  ARGV[2] limit: the number of permits the caller gives the semaphore
  ARGV[3] lease in milliseconds
  ARGV[4] 'w': join the queue when busy (else give up at once)
  ARGV[5] with 'w': how long (ms) a waiter's queue entry lives unless the waiter retries again

  Holders whose lease ended no longer count. A caller takes a permit when its place in line (its
  rank when queued, else the queue's length) is below the number of free permits, so every
  waiter ahead keeps a free permit for itself: first come, first served.

  Returns 1 when the permit was taken (or was already held with this token: a resent command);
  {0, waitHintMs, ahead} when busy: waitHintMs until the first holder's lease ends (-1: unknown),
  ahead how many waiters are before this one; {-1, limitInUse} when the semaphore is in use (a
  live holder or waiter) with another limit, changing nothing.
]]
--- @keys holders queue alive limit
local token, limit, leaseMs = ARGV[1], ARGV[2], ARGV[3]
local time = redis.call('TIME')
local nowMs = time[1] * 1000 + math.floor(time[2] / 1000)

local stored = redis.call('GET', limitKey)
if stored and stored ~= limit then
  redis.call('ZREMRANGEBYSCORE', holdersKey, '-inf', nowMs)
  if redis.call('EXISTS', holdersKey) == 1 or redis.call('ZCOUNT', aliveKey, '(' .. nowMs, '+inf') > 0 then
    return { -1, stored }
  end
  stored = false -- left over by holders and waiters now gone: the caller's limit replaces it
end

-- The holders and the limit live at least as long as this lease. PEXPIRE GT never shortens a
-- TTL; a key just created has none for GT to compare with.
local function take(held)
  redis.call('ZADD', holdersKey, nowMs + leaseMs, token)
  if held == 0 then
    redis.call('PEXPIRE', holdersKey, leaseMs)
  else
    redis.call('PEXPIRE', holdersKey, leaseMs, 'GT')
  end
  if stored then
    redis.call('PEXPIRE', limitKey, leaseMs, 'GT')
  else
    redis.call('SET', limitKey, limit, 'PX', leaseMs)
  end
  return 1
end

redis.call('ZREMRANGEBYSCORE', holdersKey, '-inf', nowMs)
local held = redis.call('ZCARD', holdersKey)
local free = tonumber(limit) - held
local waiting = redis.call('EXISTS', queueKey) == 1
-- The common case: a permit free and nobody waiting.
if free > 0 and not waiting then return take(held) end

--- @include "../../common/lua/waiterQueue"
if waiting then dropDeadWaiters(queueKey, aliveKey, nowMs) end
if redis.call('ZSCORE', holdersKey, token) then return take(held) end
local rank = redis.call('ZRANK', queueKey, token)
local place = rank or redis.call('ZCARD', queueKey)
if place < free then
  if rank then
    redis.call('ZREM', queueKey, token)
    redis.call('ZREM', aliveKey, token)
  end
  return take(held)
end

local waitHint = -1
if free <= 0 then
  local firstEnd = redis.call('ZRANGE', holdersKey, 0, 0, 'WITHSCORES')[2]
  if firstEnd then waitHint = firstEnd - nowMs end
end
if ARGV[4] == 'w' then
  local waiterLeaseMs = ARGV[5]
  redis.call('ZADD', queueKey, 'NX', string.format('%.0f', time[1] * 1000000 + time[2]), token)
  redis.call('ZADD', aliveKey, nowMs + waiterLeaseMs, token)
  redis.call('PEXPIRE', queueKey, waiterLeaseMs)
  redis.call('PEXPIRE', aliveKey, waiterLeaseMs)
  if stored then
    redis.call('PEXPIRE', limitKey, waiterLeaseMs, 'GT')
  else
    redis.call('SET', limitKey, limit, 'PX', waiterLeaseMs)
  end
end
return { 0, waitHint, place }
