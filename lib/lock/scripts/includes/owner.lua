--[[
  The owner key of a held resource holds `<token>#<seconds>.<microseconds>`: the holder's token
  (lock.store.ts describes it) and its fencing token as Redis TIME gave it, so taking a free lock
  is one SET NX PX and the fencing token needs no key of its own. The fencing token handed to
  clients is seconds * 10^6 + microseconds.

  ownerValue(token, seconds, micros): the owner value of `token` holding with the fencing token
  Redis TIME gave as `seconds`, `micros` (strings from TIME itself cost no number formatting).
  holds(value, token): whether an owner value (or false: no owner) belongs to `token`.
]]
local function ownerValue(token, seconds, micros)
  return token .. '#' .. seconds .. '.' .. micros
end

local function holds(value, token)
  return value and string.byte(value, #token + 1) == 35 and string.sub(value, 1, #token) == token
end
