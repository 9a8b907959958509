--[[
  Records one hit in an exact sliding window (a sorted set of the allowed hits' times) unless
  the limit is reached, all in one step, so concurrent hits from any number of processes let
  exactly `limit` through per window. Denied hits are not stored: memory stays O(limit).

  KEYS[1]  sorted set: member = unique hit id, score = time of the hit in ms (Redis clock)
  KEYS[2]  block marker, set for ARGV[4] ms once a hit is denied (0 = no block)
  ARGV[1]  limit: hits allowed per window (integer >= 1)
  ARGV[2]  window length in ms
  ARGV[3]  unique id for this hit
  ARGV[4]  block duration in ms after a denied hit, "0" for none

  Returns { allowed (1|0), hits counted in the window, ms until a hit may be allowed again
  (0 when the next one would be), ms left of the block (0 when not blocked) }.
]]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local blockMs = tonumber(ARGV[4])
-- One clock for every process: the Redis server's.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])

local function untilFree()
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if oldest[2] == nil then return 0 end
  return math.max(0, tonumber(oldest[2]) + window - now)
end

if blockMs > 0 then
  local blockedFor = redis.call('PTTL', KEYS[2])
  if blockedFor > 0 then
    return { 0, count, math.max(blockedFor, untilFree()), blockedFor }
  end
end

if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  count = count + 1
  local reset = 0
  if count >= limit then reset = untilFree() end
  return { 1, count, reset, 0 }
end

if blockMs > 0 then
  redis.call('SET', KEYS[2], '1', 'PX', blockMs)
  return { 0, count, math.max(blockMs, untilFree()), blockMs }
end
return { 0, count, untilFree(), 0 }
