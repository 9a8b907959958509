--[[
  Shared by the acquire scripts (KEYS in groups of 4: owner, queue, alive, readers), after
  ../../common/lua/waiterQueue.

  busyReply(join, waitHint, token, nowUs, nowMs, waiterLeaseMs): the reply of an attempt that
  found a resource busy, {0, waitHint, ahead}; with `join`, `token` first queues for every
  resource, and `ahead` counts the waiters before it (one resource; 0 otherwise).
]]
local function busyReply(join, waitHint, token, nowUs, nowMs, waiterLeaseMs)
  if not join then return { 0, waitHint, 0 } end
  for i = 0, #KEYS / 4 - 1 do
    joinQueue(KEYS[4 * i + 2], KEYS[4 * i + 3], token, nowUs, nowMs, waiterLeaseMs)
  end
  return { 0, waitHint, #KEYS == 4 and redis.call('ZRANK', KEYS[2], token) or 0 }
end
