--[[
  Sets a live configuration value, at an expected version when asked, and announces it.

  KEYS[1]  the value's hash: `version` (0 when never set), `value` (the encoded value), and
           `record` = "zookeeper" when the hash caches a value kept in ZooKeeper
  ARGV[1]  the encoded value
  ARGV[2]  the version the caller expects to replace, or "" to replace any
  ARGV[3]  the channel every instance listens on for this key
  ARGV[4]  'SPUBLISH' with sharded pub/sub, else 'PUBLISH' (common/lua/publish.lua)

  Returns {1, new version}; {0, current version} when the expected version is not current; or
  {-1, current version} when the hash caches a ZooKeeper record, which only ZooKeeper may change
  (nothing written either way). The announcement is `<version>:<encoded value>`, published in the
  same step, so no instance can read a version that is never announced.
]]
--- @keys entry
--- @include "../../common/lua/publish"
local current, record = unpack(redis.call('HMGET', entryKey, 'version', 'record'))
current = tonumber(current or '0')
if record == 'zookeeper' then
  return {-1, current}
end
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= current then
  return {0, current}
end
local version = current + 1
redis.call('HSET', entryKey, 'version', version, 'value', ARGV[1])
publish(ARGV[4], ARGV[3], version .. ':' .. ARGV[1])
return {1, version}
