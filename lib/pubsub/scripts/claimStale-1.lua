--[[
  Reclaims messages pending too long on another consumer of the group (it died or hangs), with
  each one's delivery count, which XAUTOCLAIM alone does not return. Also marks the claiming
  consumer as seen (its idle time in XINFO CONSUMERS restarts), so pruneConsumers never takes it
  for one left behind by a dead process.

  KEYS[1] the channel's stream
  ARGV[1] consumer group
  ARGV[2] the claiming consumer
  ARGV[3] minimum idle time in ms
  ARGV[4] cursor to scan the pending list from ('0-0' to start)
  ARGV[5] most messages to claim

  Returns { nextCursor, { { id, fields, deliveries }, ... }, deletedIds } where deletedIds were
  pending but trimmed from the stream (XAUTOCLAIM dropped them from the pending list). fields is
  the entry as stored: { 'd', <encoded message> } (PAYLOAD_FIELD in pubsub.store.ts).
]]
-- Before Redis 7.2 neither an XREADGROUP that returns nothing nor an XAUTOCLAIM that claims
-- nothing counts as seeing the consumer: a live consumer of a quiet stream would look idle for
-- good. A history read (an ID, not '>') does, and this one starts past any pending entry, so it
-- returns nothing and counts no delivery. (The very largest ID would mean '>'.)
redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'STREAMS', KEYS[1],
  '18446744073709551615-18446744073709551614')
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
