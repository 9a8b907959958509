--[[
  Frees the resources held with a token (never another holder's) and wakes their waiters.

  KEYS come in groups of 2, one group per resource:
    KEYS[2i+1] owner key
    KEYS[2i+2] queue: ZSET of waiting tokens, by arrival
  ARGV[1] token of the holder
  ARGV[2 + i] release channel of resource i

  Publishes, on each freed resource with waiters, the token of the first waiter (who alone may
  take it in fair mode) and returns how many resources were freed.
]]
local token = ARGV[1]
local freed = 0
for i = 1, #KEYS, 2 do
  if redis.call('GET', KEYS[i]) == token then
    redis.call('DEL', KEYS[i])
    freed = freed + 1
    local head = redis.call('ZRANGE', KEYS[i + 1], 0, 0)[1]
    if head then redis.call('PUBLISH', ARGV[2 + (i - 1) / 2], head) end
  end
end
return freed
