--[[
  Stores a namespaced cache entry under the namespace's current version, as
  "<namespace version>:<text>" (the entry format, described in cache.store.ts).

  KEYS[1]  the entry
  KEYS[2]  the namespace version counter
  ARGV[1]  the codec's text of the value
  ARGV[2]  time to live in ms

  Returns "OK".
]]
local version = redis.call('GET', KEYS[2]) or '0'
return redis.call('SET', KEYS[1], version .. ':' .. ARGV[1], 'PX', ARGV[2])
