--[[
  Counts one request the way @nestjs/throttler's in-memory ThrottlerStorageService (v6) does,
  in one step, so every instance of the app shares one exact record:
  - a counted hit lives `ttl` ms (the hits form a sliding log);
  - the record's window is fixed: it starts at the first hit and restarts, `ttl` long, at the
    first hit after it ended; it only feeds the reply (X-RateLimit-Reset);
  - with a block duration, a request is counted while not blocked, and the hit that takes the
    count over `limit` blocks the record for that long; the first request after the block
    starts a fresh count (the hits so far are dropped);
  - without one (<= 0), a request is counted only while fewer than `limit` hits are live, and
    is denied otherwise until the oldest hit expires.

  KEYS[1]  sorted set of the live hits: member = unique hit id, score = expiry in ms (Redis clock)
  KEYS[2]  hash: `window` = end of the window (ms), `block` = end of the block (ms), only while
           blocked
  ARGV[1]  ttl in ms (integer >= 0)
  ARGV[2]  limit (any number: <= 0 denies every request)
  ARGV[3]  block duration in ms (integer; <= 0 for none)
  ARGV[4]  unique id for this hit

  Returns { totalHits (the throttler's: a denied request without a block counts as one more),
  ms until the window ends, blocked (1|0), ms until a denied request may pass (0 if allowed) }.
]]
local ttl = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local blockDuration = tonumber(ARGV[3])
-- One clock for every process: the Redis server's.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local hits = redis.call('ZCARD', KEYS[1])
local state = redis.call('HMGET', KEYS[2], 'window', 'block')
local windowEnds = tonumber(state[1])
if windowEnds == nil or windowEnds <= now then
  windowEnds = now + ttl
  redis.call('HSET', KEYS[2], 'window', windowEnds)
end
local blockEnds = tonumber(state[2])

local function count()
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[4])
  hits = hits + 1
end

local totalHits, blocked, waitMs
if blockDuration <= 0 then
  blocked = hits >= limit
  if blocked then
    totalHits = hits + 1
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    waitMs = windowEnds - now
    if oldest[2] then waitMs = tonumber(oldest[2]) - now end
  else
    count()
    totalHits = hits
    waitMs = 0
  end
else
  if blockEnds == nil then
    count()
    if hits > limit then
      blockEnds = now + blockDuration
      redis.call('HSET', KEYS[2], 'block', blockEnds)
    end
  elseif blockEnds <= now then
    redis.call('DEL', KEYS[1])
    redis.call('HDEL', KEYS[2], 'block')
    blockEnds = nil
    hits = 0
    count()
  end
  totalHits = hits
  blocked = blockEnds ~= nil
  waitMs = 0
  if blocked then waitMs = blockEnds - now end
end

-- Both keys live as long as anything in them matters; an expired record is a fresh one.
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local keepUntil = math.max(windowEnds, blockEnds or 0, tonumber(last[2] or 0))
local keepMs = math.max(1, keepUntil - now)
redis.call('PEXPIRE', KEYS[1], keepMs)
redis.call('PEXPIRE', KEYS[2], keepMs)

local blockedFlag = 0
if blocked then blockedFlag = 1 end
return { totalHits, windowEnds - now, blockedFlag, waitMs }
