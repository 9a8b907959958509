--[[
  Shared by acquireLock and releaseLock (which hands the lock straight to a waiter).

  An owner key holds `<token>#<seconds>.<microseconds>` (its fencing token, as Redis TIME gives
  it) and expires with the lease, so taking a free lock is one SET NX PX, and the fencing token
  needs no key of its own. The token handed to clients is seconds * 10^6 + microseconds.

  clock(): Redis's time as seconds, microseconds.
  nextFence(previous, seconds, micros): Redis time in microseconds, or previous + 1 if that is not
  larger. Two acquisitions of one resource are always a round trip or more apart, so the clock
  alone keeps tokens increasing across holders (even after Redis restarted empty); previous + 1
  covers a hand-over within one script.
  holds(value, token): whether an owner value belongs to `token`.
  fenceOf(value): the fencing token stored in an owner value.
  dropDeadWaiters(queue, alive, nowMs): waiters that stopped retrying (crashed, paused, gave up)
  lose their place.
]]
local function clock()
  local time = redis.call('TIME')
  return tonumber(time[1]), tonumber(time[2])
end

local function nextFence(previous, seconds, micros)
  return math.max(seconds * 1000000 + micros, previous + 1)
end

local function ownerValue(token, fence)
  return token .. '#' .. math.floor(fence / 1000000) .. '.' .. fence % 1000000
end

local function holds(value, token)
  return value and string.byte(value, #token + 1) == 35 and string.sub(value, 1, #token) == token
end

local function fenceOf(value)
  local seconds, micros = string.match(value, '#(%d+)%.(%d+)$')
  return seconds * 1000000 + micros
end

local function dropDeadWaiters(queue, alive, nowMs)
  local dead = redis.call('ZRANGEBYSCORE', alive, '-inf', nowMs)
  if #dead > 0 then
    redis.call('ZREM', alive, unpack(dead))
    redis.call('ZREM', queue, unpack(dead))
  end
end
