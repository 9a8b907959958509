--[[
  The read holds of a resource: a ZSET of reader tokens scored by when each one's lease ends (ms,
  Redis time). The key lives at least as long as the longest lease in it.

  liveReaders(readers, nowMs): drops readers whose lease ended; returns how many remain and when
  the last lease ends (ms), or 0, nil.
  keepReadersFor(readers, leaseMs): makes the key live at least `leaseMs` more (never shortens it).
]]
local function liveReaders(readers, nowMs)
  redis.call('ZREMRANGEBYSCORE', readers, '-inf', nowMs)
  local last = redis.call('ZRANGE', readers, -1, -1, 'WITHSCORES')[2]
  if not last then return 0, nil end
  return redis.call('ZCARD', readers), tonumber(last)
end

local function keepReadersFor(readers, leaseMs)
  -- PTTL is -1 for a key just created (no TTL yet), which PEXPIRE GT would never set.
  if redis.call('PTTL', readers) < tonumber(leaseMs) then
    redis.call('PEXPIRE', readers, leaseMs)
  end
end
