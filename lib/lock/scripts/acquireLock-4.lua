--[[
  Takes one or more lock resources, all or nothing, and hands out a fencing token for each.

  KEYS come in groups of 4, one group per resource (sorted by the caller):
    KEYS[4i+1] owner key: the holder's token, expiring after the lease (PX)
    KEYS[4i+2] fence key: the last fencing token handed out, living as long as the lease
    KEYS[4i+3] queue: ZSET of waiting tokens, scored by arrival time (microseconds)
    KEYS[4i+4] alive: ZSET of waiting tokens, scored by the time (ms) their entry expires
  ARGV[1] token of this acquisition
  ARGV[2] lease in milliseconds
  ARGV[3] '1' to join the waiter queue when busy, '0' to give up at once (tryAcquire)
  ARGV[4] '1' for first-come first-served, '0' for "registered waiters before newcomers"
  ARGV[5] how long (ms) a waiter's queue entry lives unless the waiter retries again
  ARGV[6] '1' if this token may already be in the queues (a retry), '0' on a first attempt

  Returns {1, fence1, fence2, ...} when every resource was taken (or was already held with this
  token: the reply of an earlier run was lost and the command was resent), or {0, waitHintMs}
  when busy, waitHintMs being the longest remaining lease among busy resources (-1: unknown),
  as {0, waitHintMs, ahead}: ahead is how many waiters are queued before this one (single
  resource; 0 otherwise).
]]
--- @include "includes/fencing"
local token = ARGV[1]
local leaseMs = ARGV[2]
local join = ARGV[3] == '1'
local fair = ARGV[4] == '1'
local waiterLeaseMs = tonumber(ARGV[5])
local queued = ARGV[6] == '1'

local seconds, micros = clock()
local nowMs = seconds * 1000 + math.floor(micros / 1000)
local nowUs = seconds * 1000000 + micros

local resources = #KEYS / 4
local busy = false
local waitHint = -1
local ownedAlready = 0
for i = 0, resources - 1 do
  local owner, queue, alive = KEYS[4 * i + 1], KEYS[4 * i + 3], KEYS[4 * i + 4]
  local holder = redis.call('GET', owner)
  if holder == token then
    ownedAlready = ownedAlready + 1
  elseif holder then
    busy = true
    waitHint = math.max(waitHint, redis.call('PTTL', owner))
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
  if join then
    for i = 0, resources - 1 do
      local queue, alive = KEYS[4 * i + 3], KEYS[4 * i + 4]
      redis.call('ZADD', queue, 'NX', nowUs, token)
      redis.call('ZADD', alive, nowMs + waiterLeaseMs, token)
      redis.call('PEXPIRE', queue, waiterLeaseMs)
      redis.call('PEXPIRE', alive, waiterLeaseMs)
    end
    if resources == 1 then
      return { 0, waitHint, redis.call('ZRANK', KEYS[3], token) }
    end
  end
  return { 0, waitHint, 0 }
end

local reply = { 1 }
for i = 0, resources - 1 do
  local owner, fence, queue, alive = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  local fenceValue
  if ownedAlready == resources then
    -- Ours already (handed over by the releaser, or a resent command): same token, new lease.
    fenceValue = tonumber(redis.call('GET', fence) or '0')
    redis.call('PEXPIRE', fence, leaseMs)
  else
    fenceValue = nextFence(fence, leaseMs, nowUs)
  end
  redis.call('SET', owner, token, 'PX', leaseMs)
  if queued and redis.call('ZREM', queue, token) == 1 then
    redis.call('ZREM', alive, token)
  end
  reply[i + 2] = fenceValue
end
return reply
