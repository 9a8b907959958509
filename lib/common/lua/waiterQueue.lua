--[[
  A queue of waiters in Redis, shared by the lock's and the semaphore's scripts. A waiter is a
  token in two sorted sets: `queue`, by arrival, and `alive`, by when its entry expires unless
  the waiter retries (crashed, paused or gone waiters stop retrying).

  dropDeadWaiters(queue, alive, nowMs): waiters whose entry expired lose their place.
  joinQueue(queue, alive, token, nowUs, nowMs, waiterLeaseMs): queues `token` (keeping its place
  if queued already) and gives its entry, and both sets, `waiterLeaseMs` more to live.
  waiterChannel(channel, token): where to tell the waiter holding `token` about a release. Tokens
  read `[h<leaseMs>:]<instance>:<n>` (the `h` part: a lock waiter that may be handed the lock);
  each service instance listens on `<channel>:<instance>`, so a release reaches only the instance
  of the waiter it names, not every instance waiting.
]]
local function dropDeadWaiters(queue, alive, nowMs)
  local dead = redis.call('ZRANGEBYSCORE', alive, '-inf', nowMs)
  if #dead > 0 then
    redis.call('ZREM', alive, unpack(dead))
    redis.call('ZREM', queue, unpack(dead))
  end
end

local function joinQueue(queue, alive, token, nowUs, nowMs, waiterLeaseMs)
  redis.call('ZADD', queue, 'NX', string.format('%.0f', nowUs), token)
  redis.call('ZADD', alive, nowMs + waiterLeaseMs, token)
  redis.call('PEXPIRE', queue, waiterLeaseMs)
  redis.call('PEXPIRE', alive, waiterLeaseMs)
end

local function waiterChannel(channel, token)
  local instance = string.match(token, '^h%d+:([^:]+):') or string.match(token, '^([^:]+):')
  return channel .. ':' .. instance
end
