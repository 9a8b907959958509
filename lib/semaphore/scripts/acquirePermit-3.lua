--[[
  Takes a permit of a semaphore when one is free and no earlier waiter needs it; otherwise reports
  it busy and, if asked, queues the caller.

  KEYS:
    holders  ZSET of the holders' tokens, scored by when their lease ends (ms, Redis time), and
             the limit the semaphore is in use with as the member `#<limit>`, scored +inf: it
             lives as long as the holders (and waiters) and needs no key of its own
    queue    ZSET of waiting tokens, by arrival (us)
    alive    ZSET of waiting tokens, by when their entry expires unless the waiter retries (ms)
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
--- @keys holders queue alive
local token, limit, leaseMs = ARGV[1], ARGV[2], ARGV[3]
local marker = '#' .. limit
local time = redis.call('TIME')
local nowMs = time[1] * 1000 + math.floor(time[2] / 1000)

-- The highest-scored member is the limit marker, when there is one (tokens never start with #).
local top = redis.call('ZRANGE', holdersKey, -1, -1)[1]
local marked = top == marker
if top and not marked and string.byte(top, 1) == 35 then
  redis.call('ZREMRANGEBYSCORE', holdersKey, '-inf', nowMs)
  if redis.call('ZCARD', holdersKey) > 1 or redis.call('ZCOUNT', aliveKey, '(' .. nowMs, '+inf') > 0 then
    return { -1, string.sub(top, 2) }
  end
  -- Left over by holders and waiters now gone: the caller's limit replaces it.
  redis.call('DEL', holdersKey)
  top = nil
end

local held = 0
if top then
  redis.call('ZREMRANGEBYSCORE', holdersKey, '-inf', nowMs)
  held = redis.call('ZCARD', holdersKey)
  if marked then held = held - 1 end
end
-- Whether the holders' key still exists, with the TTL every write here gives it.
local existed = marked or held > 0

-- Adds `token` scored `score` (and the marker if missing), and keeps the holders at least `ms`
-- more: PEXPIRE GT never shortens a TTL, and a key just created has none to compare with.
local function hold(score, ms)
  if marked then
    redis.call('ZADD', holdersKey, score, token)
  else
    redis.call('ZADD', holdersKey, score, token, 'inf', marker)
  end
  if existed then
    redis.call('PEXPIRE', holdersKey, ms, 'GT')
  else
    redis.call('PEXPIRE', holdersKey, ms)
  end
end

local free = tonumber(limit) - held
local waiting = redis.call('EXISTS', queueKey) == 1
-- The common case: a permit free and nobody waiting.
if free > 0 and not waiting then
  hold(nowMs + leaseMs, leaseMs)
  return 1
end

--- @include "../../common/lua/waiterQueue"
if waiting then dropDeadWaiters(queueKey, aliveKey, nowMs) end
local rank = redis.call('ZRANK', queueKey, token)
local place = rank or redis.call('ZCARD', queueKey)
if place < free or redis.call('ZSCORE', holdersKey, token) then
  if rank then
    redis.call('ZREM', queueKey, token)
    redis.call('ZREM', aliveKey, token)
  end
  hold(nowMs + leaseMs, leaseMs)
  return 1
end

local waitHint = -1
if free <= 0 then
  local firstEnd = redis.call('ZRANGE', holdersKey, 0, 0, 'WITHSCORES')[2]
  if firstEnd then waitHint = firstEnd - nowMs end
end
if ARGV[4] == 'w' then
  local waiterLeaseMs = ARGV[5]
  joinQueue(queueKey, aliveKey, token, time[1] * 1000000 + time[2], nowMs, waiterLeaseMs)
  -- The limit outlives the waiters too.
  if not marked then redis.call('ZADD', holdersKey, 'inf', marker) end
  if existed then
    redis.call('PEXPIRE', holdersKey, waiterLeaseMs, 'GT')
  else
    redis.call('PEXPIRE', holdersKey, waiterLeaseMs)
  end
end
return { 0, waitHint, place }
