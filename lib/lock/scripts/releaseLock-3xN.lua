--[[
  Frees the resources written with a token (never another holder's) and serves their waiters.

  KEYS come in groups of 3, one group per resource:
    KEYS[3i+1] owner key: owner value (includes/owner.lua)
    KEYS[3i+2] queue: ZSET of waiting tokens, by arrival
    KEYS[3i+3] alive: ZSET of waiting tokens, by entry expiry
  ARGV[1] token of the holder
  ARGV[2] 'SPUBLISH' with sharded pub/sub, else 'PUBLISH' (common/lua/publish.lua)
  ARGV[3 + i] release channel of resource i (the first waiter's instance gets its own suffix)

  For each freed resource with live waiters: if the first waiter's token reads `h<leaseMs>:...`
  (a single-resource writer), the lock passes straight to it with the next fencing token, and
  `<token>#<fence>` is published; otherwise the first waiter's token is published (and, when it is
  a reader, every reader's before the first writer), so they retry at once
  (includes/serveWaiters.lua). Returns how many resources were freed.
]]
--- @include "includes/owner"
local token = ARGV[1]

-- The common case first, before anything else is set up: one resource, nobody waiting.
if #KEYS == 3 then
  if not holds(redis.call('GET', KEYS[1]), token) then return 0 end
  if redis.call('EXISTS', KEYS[2]) == 0 then return redis.call('DEL', KEYS[1]) end
end

--- @include "includes/fencing"
--- @include "../../common/lua/waiterQueue"
--- @include "../../common/lua/publish"
--- @include "includes/wakeWaiters"
--- @include "includes/serveWaiters"
local freed = 0
for i = 0, #KEYS / 3 - 1 do
  local owner, queue, alive = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  local value = redis.call('GET', owner)
  if holds(value, token) then
    freed = freed + 1
    -- No reader can hold while a writer does: the resource is free once the owner key goes.
    redis.call('DEL', owner)
    if redis.call('EXISTS', queue) == 1 then
      local seconds, micros = clock()
      serveWaiters(owner, queue, alive, ARGV[3 + i], ARGV[2], fenceOf(value), seconds, micros)
    end
  end
end
return freed
