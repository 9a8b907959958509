--[[
  Caches a live configuration value read from ZooKeeper, its record, and announces it to the
  instances that read Redis, unless Redis holds that version or a newer one already: every
  instance watching the key writes each change through, and only the first write counts.

  KEYS[1]  the value's hash: `version`, `value`, `record` (set to "zookeeper")
  ARGV[1]  the version (ZooKeeper's data version of the key's node)
  ARGV[2]  the encoded value
  ARGV[3]  the channel every instance listens on for this key
  ARGV[4]  'SPUBLISH' with sharded pub/sub, else 'PUBLISH' (common/lua/publish.lua)

  Returns 1 when cached, 0 when Redis held that version or a newer one (nothing written).
]]
--- @keys entry
--- @include "../../common/lua/publish"
local current = tonumber(redis.call('HGET', entryKey, 'version') or '0')
if tonumber(ARGV[1]) <= current then
  return 0
end
redis.call('HSET', entryKey, 'version', ARGV[1], 'value', ARGV[2], 'record', 'zookeeper')
publish(ARGV[4], ARGV[3], ARGV[1] .. ':' .. ARGV[2])
return 1
