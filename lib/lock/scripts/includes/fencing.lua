--[[
  Shared by acquireLock and releaseLock (which hands the lock straight to a waiter).

  nowMs(), nowUs(): Redis's clock in milliseconds / microseconds.
  nextFence(fenceKey, leaseMs, nowUs): the next fencing token of a resource, stored in fenceKey
  for as long as the lease. Redis time in microseconds keeps tokens increasing even after the
  fence key expired or Redis restarted empty; last + 1 keeps them strictly increasing within one
  microsecond.
  dropDeadWaiters(queue, alive, nowMs): waiters that stopped retrying (crashed, paused, gave up)
  lose their place.
]]
local function clock()
  local time = redis.call('TIME')
  return tonumber(time[1]), tonumber(time[2])
end

local function nextFence(fenceKey, leaseMs, nowUs)
  local last = tonumber(redis.call('GET', fenceKey) or '0')
  local fence = math.max(last + 1, nowUs)
  redis.call('SET', fenceKey, string.format('%.0f', fence), 'PX', leaseMs)
  return fence
end

local function dropDeadWaiters(queue, alive, nowMs)
  local dead = redis.call('ZRANGEBYSCORE', alive, '-inf', nowMs)
  if #dead > 0 then
    redis.call('ZREM', alive, unpack(dead))
    redis.call('ZREM', queue, unpack(dead))
  end
end
