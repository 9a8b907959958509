--[[
  Removes the consumers that processes which stopped without leaving the group (SIGKILL, crash,
  lost host) left behind: every consumer but the caller with no pending message and idle longer
  than the threshold. Without this, each such stop would leave one more consumer listed.

  A consumer with pending messages is kept: XGROUP DELCONSUMER would drop its pending entries,
  and they must be reclaimed first (claimStale). Removing a live consumer by mistake loses
  nothing: it has nothing pending, and its next XREADGROUP (even one already blocked) recreates it.

  KEYS[1] the channel's stream
  ARGV[1] consumer group
  ARGV[2] the calling consumer, never removed
  ARGV[3] idle time in ms over which a consumer with nothing pending is removed

  Returns the names of the removed consumers.
]]
local idleOver = tonumber(ARGV[3])
local removed = {}
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  -- Flat name/value pairs, read by name: Redis 7.2 added 'inactive' (time since the last read
  -- that returned messages), which keeps growing for a live consumer of a quiet stream; 'idle'
  -- is the time since it last interacted with the group at all.
  local info = {}
  for i = 1, #consumer, 2 do
    info[consumer[i]] = consumer[i + 1]
  end
  if info.name ~= ARGV[2] and info.pending == 0 and info.idle > idleOver then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info.name)
    removed[#removed + 1] = info.name
  end
end
return removed
