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

  Returns {1, fence1, fence2, ...} when every resource was taken (or was already held with this
  token: the reply of an earlier run was lost and the command was resent), or {0, waitHintMs}
  when busy, waitHintMs being the longest remaining lease among busy resources (-1: unknown).
]]
local token = ARGV[1]
local leaseMs = ARGV[2]
local join = ARGV[3] == '1'
local fair = ARGV[4] == '1'
local waiterLeaseMs = tonumber(ARGV[5])

local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local nowUs = tonumber(time[1]) * 1000000 + tonumber(time[2])

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
    -- Waiters that stopped retrying (crashed, paused, gave up) lose their place.
    local dead = redis.call('ZRANGEBYSCORE', alive, '-inf', nowMs)
    if #dead > 0 then
      redis.call('ZREM', alive, unpack(dead))
      redis.call('ZREM', queue, unpack(dead))
    end
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
  end
  return { 0, waitHint }
end

local reply = { 1 }
for i = 0, resources - 1 do
  local owner, fence, queue, alive = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  local last = tonumber(redis.call('GET', fence) or '0')
  local next = last
  if ownedAlready < resources then
    -- Redis time in microseconds keeps tokens increasing even after the fence key expired or
    -- Redis restarted empty; last + 1 keeps them strictly increasing within one microsecond.
    next = math.max(last + 1, nowUs)
  end
  redis.call('SET', owner, token, 'PX', leaseMs)
  redis.call('SET', fence, string.format('%.0f', next), 'PX', leaseMs)
  if redis.call('ZREM', queue, token) == 1 then
    redis.call('ZREM', alive, token)
  end
  reply[i + 2] = next
end
return reply
