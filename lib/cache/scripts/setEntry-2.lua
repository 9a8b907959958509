--[[
  Stores a namespaced cache entry under the namespace's current version (the entry format is
  described in cache-entry.ts).

  KEYS[1]  the entry
  KEYS[2]  the namespace version counter
  ARGV[1]  the entry's header and text, without the version
  ARGV[2]  how long Redis keeps it, in ms

  Returns "OK".
]]
local version = redis.call('GET', KEYS[2]) or '0'
return redis.call('SET', KEYS[1], version .. ':' .. ARGV[1], 'PX', ARGV[2])
