--[[
  Takes one or more lock resources for reading (shared with other readers), all or nothing.
  Writers go first: a reader waits while a writer holds the resource or a live writer is queued
  ahead of it, so a stream of readers cannot starve a writer.

  KEYS come in groups of 4, one group per resource (sorted by the caller):
    KEYS[4i+1] owner key: the writer's owner value (includes/owner.lua)
    KEYS[4i+2] queue: ZSET of waiting tokens (writers and readers), scored by arrival (us)
    KEYS[4i+3] alive: ZSET of waiting tokens, scored by the time (ms) their entry expires
    KEYS[4i+4] readers: the read holds (includes/readers.lua)
  ARGV[1] token of this acquisition (a reader's: ends in `:r`)
  ARGV[2] lease in milliseconds
  ARGV[3] flags: 'w' join the waiter queue when busy, 'q' this token may already be queued
  ARGV[4] with 'w': how long (ms) a waiter's queue entry lives unless the waiter retries again

  A reader already holding with this token (a resent command) gets a new lease. Returns the
  fencing token (Redis time in microseconds: later than every earlier write hold's) as a plain
  integer for one resource, {1, fence, fence, ...} for several, or {0, waitHintMs, ahead} when
  busy, as acquireLock-4xN.lua does.
]]
--- @include "includes/readers"
--- @include "../../common/lua/waiterQueue"
--- @include "../../common/lua/publish"
--- @include "includes/wakeWaiters"
--- @include "includes/busyReply"
local token, leaseMs, flags = ARGV[1], ARGV[2], ARGV[3]
local time = redis.call('TIME')
local seconds, micros = tonumber(time[1]), tonumber(time[2])
local nowMs = seconds * 1000 + math.floor(micros / 1000)
local resources = #KEYS / 4

-- Whether a writer is queued before `token` (anywhere in the queue when it is not queued).
local function writerAhead(queue)
  local rank = redis.call('ZRANK', queue, token)
  if rank == 0 then return false end
  for _, waiter in ipairs(redis.call('ZRANGE', queue, 0, rank and rank - 1 or -1)) do
    if not isReader(waiter) then return true end
  end
  return false
end

local busy = false
local waitHint = -1
for i = 0, resources - 1 do
  local owner, queue, alive = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3]
  if redis.call('EXISTS', owner) == 1 then
    busy = true
    waitHint = math.max(waitHint, redis.call('PTTL', owner))
  elseif redis.call('EXISTS', alive) == 1 then
    dropDeadWaiters(queue, alive, nowMs)
    if writerAhead(queue) then busy = true end
  end
end

if busy then
  local join = string.find(flags, 'w', 1, true) ~= nil
  return busyReply(join, waitHint, token, seconds * 1000000 + micros, nowMs, tonumber(ARGV[4]))
end

local queued = string.find(flags, 'q', 1, true) ~= nil
for i = 0, resources - 1 do
  local queue, alive, readers = KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  redis.call('ZADD', readers, nowMs + leaseMs, token)
  keepReadersFor(readers, leaseMs)
  if queued and redis.call('ZREM', queue, token) == 1 then
    redis.call('ZREM', alive, token)
  end
end
local fence = seconds * 1000000 + micros
if resources == 1 then return fence end
local reply = { 1 }
for i = 1, resources do reply[i + 1] = fence end
return reply
