--[[
  Frees the read holds of a token (never another reader's) and, where it was the last reader,
  serves the waiters.

  KEYS come in groups of 4, one group per resource:
    KEYS[4i+1] owner key: the writer's owner value (includes/owner.lua)
    KEYS[4i+2] queue: ZSET of waiting tokens, by arrival
    KEYS[4i+3] alive: ZSET of waiting tokens, by entry expiry
    KEYS[4i+4] readers: the read holds (includes/readers.lua)
  ARGV[1] token of the reader
  ARGV[2] 'SPUBLISH' with sharded pub/sub, else 'PUBLISH' (common/lua/publish.lua)
  ARGV[3 + i] release channel of resource i (the first waiter's instance gets its own suffix)

  A resource left with no live reader and waiters queued is served as a writer's release serves
  it (includes/serveWaiters.lua). Returns how many resources were freed.
]]
--- @include "includes/owner"
--- @include "includes/fencing"
--- @include "includes/readers"
--- @include "../../common/lua/waiterQueue"
--- @include "../../common/lua/publish"
--- @include "includes/wakeWaiters"
--- @include "includes/serveWaiters"
local token = ARGV[1]
local freed = 0
for i = 0, #KEYS / 4 - 1 do
  local owner, queue, alive, readers = KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4]
  if redis.call('ZREM', readers, token) == 1 then
    freed = freed + 1
    if redis.call('EXISTS', queue) == 1 and redis.call('EXISTS', owner) == 0 then
      local seconds, micros = clock()
      if liveReaders(readers, seconds * 1000 + math.floor(micros / 1000)) == 0 then
        serveWaiters(owner, queue, alive, ARGV[3 + i], ARGV[2], 0, seconds, micros)
      end
    end
  end
end
return freed
