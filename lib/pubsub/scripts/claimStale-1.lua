--[[
  Reclaims messages pending too long on another consumer of the group (it died or hangs), with
  each one's delivery count, which XAUTOCLAIM alone does not return.

  KEYS[1] the channel's stream
  ARGV[1] consumer group
  ARGV[2] the claiming consumer
  ARGV[3] minimum idle time in ms
  ARGV[4] cursor to scan the pending list from ('0-0' to start)
  ARGV[5] most messages to claim

  Returns { nextCursor, { { id, fields, deliveries }, ... }, deletedIds } where deletedIds were
  pending but trimmed from the stream (XAUTOCLAIM dropped them from the pending list).
]]
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4],
  'COUNT', ARGV[5])
local out = {}
for i, entry in ipairs(claimed[2]) do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
  local deliveries = 1
  if pending[1] then deliveries = pending[1][4] end
  out[i] = { entry[1], entry[2], deliveries }
end
return { claimed[1], out, claimed[3] or {} }
