--[[
  Frees the resources held with a token (never another holder's) and serves their waiters.

  KEYS come in groups of 3, one group per resource:
    KEYS[3i+1] owner key: owner value (includes/owner.lua)
    KEYS[3i+2] queue: ZSET of waiting tokens, by arrival
    KEYS[3i+3] alive: ZSET of waiting tokens, by entry expiry
  ARGV[1] token of the holder
  ARGV[2 + i] release channel of resource i (the first waiter's instance gets its own suffix)

  For each freed resource with live waiters: if the first waiter's token reads `h<leaseMs>:...`
  (a single-resource waiter), the lock passes straight to it with the next fencing token, and
  `<token>#<fence>` is published; otherwise the lock is freed and the first waiter's token is
  published, so that waiter retries at once. Returns how many resources were freed.
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
local freed = 0
for i = 0, #KEYS / 3 - 1 do
  local owner, queue, alive = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  local channel = ARGV[2 + i]
  local value = redis.call('GET', owner)
  if holds(value, token) then
    freed = freed + 1
    local head
    if redis.call('EXISTS', queue) == 1 then
      local seconds, micros = clock()
      dropDeadWaiters(queue, alive, seconds * 1000 + math.floor(micros / 1000))
      head = redis.call('ZRANGE', queue, 0, 0)[1]
      local leaseMs = head and string.match(head, '^h(%d+):')
      if leaseMs then
        local handed = nextFence(fenceOf(value), seconds, micros)
        redis.call('SET', owner, ownerValueOf(head, handed), 'PX', leaseMs)
        redis.call('ZREM', queue, head)
        redis.call('ZREM', alive, head)
        redis.call('PUBLISH', waiterChannel(channel, head), head .. '#' .. string.format('%.0f', handed))
      end
    end
    if not (head and string.match(head, '^h%d+:')) then
      redis.call('DEL', owner)
      if head then redis.call('PUBLISH', waiterChannel(channel, head), head) end
    end
  end
end
return freed
