--[[
  Frees the resources held with a token (never another holder's) and serves their waiters.

  KEYS come in groups of 4, one group per resource:
    KEYS[4i+1] owner key
    KEYS[4i+2] fence key
    KEYS[4i+3] queue: ZSET of waiting tokens, by arrival
    KEYS[4i+4] alive: ZSET of waiting tokens, by entry expiry
  ARGV[1] token of the holder
  ARGV[2 + i] release channel of resource i (the first waiter's instance gets its own suffix)

  For each freed resource with live waiters: if the first waiter's token reads `h<leaseMs>:...`
  (a single-resource waiter), the lock passes straight to it, and `<token>#<fence>` is
  published; otherwise the lock is freed and the first waiter's token is published, so that
  waiter retries at once. Returns how many resources were freed.
]]
--- @include "includes/fencing"
--- @include "includes/waiterChannel"
local token = ARGV[1]
local freed = 0
for i = 0, #KEYS / 4 - 1 do
  local owner, fence, queue, alive = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  local channel = ARGV[2 + i]
  if redis.call('GET', owner) == token then
    freed = freed + 1
    local head
    if redis.call('EXISTS', queue) == 1 then
      local seconds, micros = clock()
      dropDeadWaiters(queue, alive, seconds * 1000 + math.floor(micros / 1000))
      head = redis.call('ZRANGE', queue, 0, 0)[1]
      local leaseMs = head and string.match(head, '^h(%d+):')
      if leaseMs then
        redis.call('SET', owner, head, 'PX', leaseMs)
        local handed = nextFence(fence, leaseMs, seconds * 1000000 + micros)
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
