--[[
  Removes a waiter that gave up from the queues of its resources, and wakes whoever is now first
  (the readers before the first writer, when a reader is first: includes/wakeWaiters.lua).

  KEYS come in groups of 2, one group per resource:
    KEYS[2i+1] queue: ZSET of waiting tokens, by arrival
    KEYS[2i+2] alive: ZSET of waiting tokens, by entry expiry
  ARGV[1] token of the waiter
  ARGV[2] 'SPUBLISH' with sharded pub/sub, else 'PUBLISH' (common/lua/publish.lua)
  ARGV[3 + i] release channel of resource i (the first waiter's instance gets its own suffix)

  Returns how many queue entries were removed.
]]
--- @include "../../common/lua/waiterQueue"
--- @include "../../common/lua/publish"
--- @include "includes/wakeWaiters"
local token = ARGV[1]
local removed = 0
for i = 1, #KEYS, 2 do
  if redis.call('ZREM', KEYS[i], token) == 1 then
    removed = removed + 1
    redis.call('ZREM', KEYS[i + 1], token)
    wakeWaiters(KEYS[i], ARGV[3 + (i - 1) / 2], ARGV[2])
  end
end
return removed
