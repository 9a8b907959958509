--[[
  Takes one or more lock resources for writing (exclusively), all or nothing, and hands out a
  fencing token for each.

  KEYS come in groups of 4, one group per resource (sorted by the caller):
    KEYS[4i+1] owner key: owner value (includes/owner.lua), expiring after the lease (PX)
    KEYS[4i+2] queue: ZSET of waiting tokens (writers and readers), scored by arrival (us)
    KEYS[4i+3] alive: ZSET of waiting tokens, scored by the time (ms) their entry expires
    KEYS[4i+4] readers: the read holds (includes/readers.lua); a live one keeps writers out
  ARGV[1] token of this acquisition
  ARGV[2] lease in milliseconds
  ARGV[3] flags: 'w' join the waiter queue when busy (else give up at once, as tryAcquire does),
          'f' first-come first-served (else "registered waiters before newcomers"), 'q' this token
          may already be queued (a retry)
  ARGV[4] with 'w': how long (ms) a waiter's queue entry lives unless the waiter retries again

  When every resource was taken (or was already held with this token: the reply of an earlier run
  was lost and the command was resent, or a releaser handed it over), returns the fencing token
  of a single resource as a plain integer (an array reply costs the common case measurably more:
  see the lock benchmark), or {1, fence1, fence2, ...} for several. Returns {0, waitHintMs, ahead}
  when busy: waitHintMs is the longest remaining lease among
  busy resources' holders, writer or readers (-1: unknown), ahead how many waiters are queued before this one (single
  resource; 0 otherwise).
]]
--- @include "includes/owner"
local token = ARGV[1]
local leaseMs = ARGV[2]
local time = redis.call('TIME')

-- The common case first, before anything else is set up: one resource, nobody waiting or
-- reading. Taking it is a single SET NX.
if #KEYS == 4 and redis.call('EXISTS', KEYS[3], KEYS[4]) == 0 and
    redis.call('SET', KEYS[1], ownerValue(token, time[1], time[2]), 'NX', 'PX', leaseMs) then
  return time[1] * 1000000 + time[2]
end

--- @include "includes/fencing"
--- @include "includes/readers"
--- @include "../../common/lua/waiterQueue"
--- @include "includes/busyReply"
local flags = ARGV[3]
local seconds, micros = tonumber(time[1]), tonumber(time[2])
local join = string.find(flags, 'w', 1, true) ~= nil
local fair = string.find(flags, 'f', 1, true) ~= nil
local queued = string.find(flags, 'q', 1, true) ~= nil
local nowMs = seconds * 1000 + math.floor(micros / 1000)
local resources = #KEYS / 4
local busy = false
local waitHint = -1
local ownedAlready = 0
local holders = {}
for i = 0, resources - 1 do
  local owner, queue, alive, readers = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  local holder = redis.call('GET', owner)
  holders[i + 1] = holder
  local reading, lastReadEnd = 0, nil
  if not holder then reading, lastReadEnd = liveReaders(readers, nowMs) end
  if holds(holder, token) then
    ownedAlready = ownedAlready + 1
  elseif holder then
    busy = true
    waitHint = math.max(waitHint, redis.call('PTTL', owner))
  elseif reading > 0 then
    busy = true
    waitHint = math.max(waitHint, lastReadEnd - nowMs)
  elseif redis.call('EXISTS', alive) == 1 then
    dropDeadWaiters(queue, alive, nowMs)
    if fair then
      local head = redis.call('ZRANGE', queue, 0, 0)[1]
      if head and head ~= token then busy = true end
    elseif redis.call('ZCARD', queue) > 0 and not redis.call('ZSCORE', queue, token) then
      -- Free, but others are already waiting: a newcomer (typically the releaser looping
      -- straight back) queues behind them instead of barging in.
      busy = true
    end
  end
end

if busy then
  return busyReply(join, waitHint, token, seconds * 1000000 + micros, nowMs, tonumber(ARGV[4]))
end

local reply = { 1 }
for i = 0, resources - 1 do
  local owner, queue, alive = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3]
  local fence
  if ownedAlready == resources then
    -- Ours already (handed over by the releaser, or a resent command): same token, new lease.
    fence = fenceOf(holders[i + 1])
    redis.call('PEXPIRE', owner, leaseMs)
  else
    fence = nextFence(0, seconds, micros)
    redis.call('SET', owner, ownerValueOf(token, fence), 'PX', leaseMs)
  end
  if queued and redis.call('ZREM', queue, token) == 1 then
    redis.call('ZREM', alive, token)
  end
  reply[i + 2] = fence
end
if resources == 1 then return reply[2] end
return reply
