--[[
  Shared by the release scripts, after includes/owner, includes/fencing,
  ../../common/lua/waiterQueue, ../../common/lua/publish and includes/wakeWaiters.

  serveWaiters(owner, queue, alive, channel, publishCommand, fence, seconds, micros): for a
  resource nobody holds any more (no writer, no live reader), at Redis time seconds/micros. Drops dead waiters, then
  passes the lock straight to a first waiter that takes hand-overs (a single-resource writer: an
  `h<leaseMs>:` token) with the next fencing token after `fence`, publishing `<token>#<fence>`;
  otherwise wakes the first waiters.
]]
local function serveWaiters(owner, queue, alive, channel, publishCommand, fence, seconds, micros)
  dropDeadWaiters(queue, alive, seconds * 1000 + math.floor(micros / 1000))
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  local leaseMs = head and string.match(head, '^h(%d+):')
  if not leaseMs then
    wakeWaiters(queue, channel, publishCommand)
    return
  end
  local handed = nextFence(fence, seconds, micros)
  redis.call('SET', owner, ownerValueOf(head, handed), 'PX', leaseMs)
  redis.call('ZREM', queue, head)
  redis.call('ZREM', alive, head)
  publish(publishCommand, waiterChannel(channel, head), head .. '#' .. string.format('%.0f', handed))
end
