--[[
  Counts the entries of a stream after an id, up to a limit, without sending them: a consumer
  group's lag where Redis cannot tell it (XINFO GROUPS' lag is nil once entries after the
  group's position were deleted).

  KEYS[1] the channel's stream
  ARGV[1] the id to count after (exclusive)
  ARGV[2] most entries to count

  Returns the count.
]]
return #redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
