--[[
  The owner key of a held resource holds `<token>#<seconds>.<microseconds>`: the holder's token
  (lock.store.ts describes it) and its fencing token as Redis TIME gave it, so taking a free lock
  is one SET NX PX and the fencing token needs no key of its own. The fencing token handed to
  clients is seconds * 10^6 + microseconds.

  ownerValue(token, fence): the owner value of `token` holding with fencing token `fence`.
  holds(value, token): whether an owner value (or false: no owner) belongs to `token`.
  fenceOf(value): the fencing token stored in an owner value.
]]
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
