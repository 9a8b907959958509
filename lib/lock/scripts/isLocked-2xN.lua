--[[
  Whether any of the resources is held right now, by a writer or a live reader.

  KEYS come in groups of 2, one group per resource:
    KEYS[2i+1] owner key: the writer's owner value
    KEYS[2i+2] readers: the read holds, scored by lease end (includes/readers.lua)

  Returns 1 when held, else 0.
]]
local time = redis.call('TIME')
local nowMs = time[1] * 1000 + math.floor(time[2] / 1000)
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 or
      redis.call('ZCOUNT', KEYS[i + 1], '(' .. nowMs, '+inf') > 0 then
    return 1
  end
end
return 0
