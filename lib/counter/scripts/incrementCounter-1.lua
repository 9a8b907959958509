--[[
  Adds to a counter and, when asked, gives a counter without expiry a time to live, in one step
  (no INCR-then-EXPIRE window in which a crash leaves a counter that never expires).

  KEYS[1]  the counter
  ARGV[1]  amount to add: a 64-bit integer in decimal (negative to subtract)
  ARGV[2]  time to live in ms, set only while the counter has none; "0" leaves expiry alone

  Returns the new value: an integer reply while |v| < 2^52, else the exact decimal string read
  back with GET. Lua numbers are doubles and round beyond 2^53; and ioredis 6 parses integer
  replies as `n * 10 + digit - 48` in doubles, which already rounds values within 57 of 2^53
  (9007199254740991 arrives as ...992), so the margin is kept wide.
]]
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '0' and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if value >= 4503599627370496 or value <= -4503599627370496 then
  return redis.call('GET', KEYS[1])
end
return value
