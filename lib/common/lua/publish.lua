--[[
  Shared by every script that announces on a channel.

  publish(command, channel, message): publishes with `command`, which the caller passes as an
  ARGV: 'SPUBLISH' with sharded pub/sub (the channel shares the script's hash tag, so its shard is
  the script's), else 'PUBLISH'. Both names stay literal, so the ACL a script needs can be read
  from its source.
]]
local function publish(command, channel, message)
  if command == 'SPUBLISH' then return redis.call('SPUBLISH', channel, message) end
  return redis.call('PUBLISH', channel, message)
end
