--[[
  Removes a consumer that stopped cleanly from its group, unless messages are still pending on
  it (those must stay claimable by the others, and XGROUP DELCONSUMER would drop them). Without
  this, every restart of an app would leave one more consumer listed in the group.

  KEYS[1] the channel's stream
  ARGV[1] consumer group
  ARGV[2] consumer

  Returns 1 if the consumer was removed, 0 if messages were still pending on it.
]]
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #pending > 0 then
  return 0
end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
