--[[
  Shared by the release scripts and leaveQueue, after ../../common/lua/waiterQueue and
  ../../common/lua/publish. A lock's
  waiter queue holds writers and readers by arrival; a reader's token ends in `:r` (lock.store.ts
  describes tokens).

  isReader(token): whether the token is a read acquisition's.
  wakeWaiters(queue, channel, publishCommand): tells the first waiter to retry; when it is a
  reader, every reader before the first writer too (they share the lock).
]]
local function isReader(token)
  return string.sub(token, -2) == ':r'
end

local function wakeWaiters(queue, channel, publishCommand)
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  if not head then return end
  if not isReader(head) then
    publish(publishCommand, waiterChannel(channel, head), head)
    return
  end
  for _, waiter in ipairs(redis.call('ZRANGE', queue, 0, -1)) do
    if not isReader(waiter) then return end
    publish(publishCommand, waiterChannel(channel, waiter), waiter)
  end
end

