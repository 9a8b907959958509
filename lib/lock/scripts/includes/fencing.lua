--[[
  Shared by acquireLock and releaseLock (which hands the lock straight to a waiter), after
  includes/owner.lua.

  clock(): Redis's time as seconds, microseconds.
  nextFence(previous, seconds, micros): Redis time in microseconds, or previous + 1 if that is not
  larger. Two acquisitions of one resource are always a round trip or more apart, so the clock
  alone keeps tokens increasing across holders (even after Redis restarted empty); previous + 1
  covers a hand-over within one script.
]]
local function clock()
  local time = redis.call('TIME')
  return tonumber(time[1]), tonumber(time[2])
end

local function nextFence(previous, seconds, micros)
  return math.max(seconds * 1000000 + micros, previous + 1)
end

-- The owner value of `token` holding with fencing token `fence` (a number).
local function ownerValueOf(token, fence)
  return ownerValue(token, math.floor(fence / 1000000), fence % 1000000)
end

-- The fencing token stored in an owner value (includes/owner.lua).
local function fenceOf(value)
  local seconds, micros = string.match(value, '#(%d+)%.(%d+)$')
  return seconds * 1000000 + micros
end
