--[[
  Ends a fill: stores the computed value unless its namespace was invalidated meanwhile,
  releases the fill lease if this caller still holds it, and tells the callers waiting for the
  value (they subscribed to the fill channel) what was stored.

  KEYS[1]  the entry
  KEYS[2]  the entry's fill lease
  KEYS[3]  the namespace version counter (the entry key again when the entry has no namespace)
  ARGV[1]  lease token of this caller ("" when it holds none)
  ARGV[2]  the entry's header and text, without the version (cache-entry.ts); "" stores
           nothing (the method threw or its result is not cached)
  ARGV[3]  namespace version read when the fill began ("" when the entry has no namespace)
  ARGV[4]  how long Redis keeps the entry, in ms
  ARGV[5]  fill channel to publish on
  ARGV[6]  'SPUBLISH' with sharded pub/sub, else 'PUBLISH' (common/lua/publish.lua)

  Returns the stored entry, "<namespace version>:<header>\n<text>" (the entry format,
  described in cache-entry.ts), or "" when nothing was stored. The same is published, so
  waiters need no second read.
]]
--- @include "../../common/lua/publish"
local stored = ''
if ARGV[2] ~= '' then
  if ARGV[3] == '' then
    stored = ':' .. ARGV[2]
  elseif (redis.call('GET', KEYS[3]) or '0') == ARGV[3] then
    -- Stored under the version it was computed for: an invalidation during the computation
    -- makes it stale at once rather than resurrecting old data under the new version.
    stored = ARGV[3] .. ':' .. ARGV[2]
  end
  if stored ~= '' then redis.call('SET', KEYS[1], stored, 'PX', ARGV[4]) end
end
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
publish(ARGV[6], ARGV[5], stored)
return stored
