--[[
  On a cache miss, or to replace an entry the caller cannot use (stale, or a tag invalidated):
  reads the entry once more and, unless someone stored a usable one meanwhile, tries to take the
  short lease that makes this caller the one that computes the value (stampede protection).

  KEYS[1]  the entry
  KEYS[2]  the entry's fill lease
  KEYS[3]  the namespace version counter (the entry key again when the entry has no namespace)
  ARGV[1]  lease token, unique to this caller
  ARGV[2]  lease duration in ms
  ARGV[3]  "1" when the entry is namespaced, else "0"
  ARGV[4]  the header line (up to and with its "\n") of the entry the caller read and cannot
           use; "" when it read none

  Entry format (described in cache-entry.ts): "<namespace version>:<header>\n<text>", the
  version "" without namespace; a missing version counter reads as "0".

  Returns { 'hit', stored entry } when another usable entry exists,
          { 'won', version } when this caller took the lease and must compute and store,
          { 'wait', version, lease ms left } when another caller holds the lease.
  The version is "" for an entry without namespace.
]]
local version = ''
local entry = redis.call('GET', KEYS[1])
if ARGV[3] == '1' then version = redis.call('GET', KEYS[3]) or '0' end
if entry then
  -- Written under an older version: invalidated with its namespace.
  if string.sub(entry, 1, #version + 1) ~= version .. ':' then entry = false
  -- The very entry the caller could not use.
  elseif ARGV[4] ~= '' and string.sub(entry, 1, #ARGV[4]) == ARGV[4] then entry = false end
end
if entry then return { 'hit', entry } end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return { 'won', version } end
return { 'wait', version, redis.call('PTTL', KEYS[2]) }
