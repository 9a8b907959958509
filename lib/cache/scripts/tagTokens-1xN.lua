--[[
  Before a tagged value is computed: the token each of its tags holds now, giving a token to the
  tags that have none, and keeping every tag at least as long as the entry will live. The entry
  records these tokens and is current only while each tag still holds its token:
  `invalidateTags()` deletes the tag (the next fill gives it a new token).

  KEYS[i]  the version key of each tag (they share one hash tag)
  ARGV[1]  a fresh random token, for the tags that have none
  ARGV[2]  ms the tags must live at least: the entry's lifetime plus its fill lease

  Returns the tokens, in the order of KEYS.
]]
local tokens = {}
local keepMs = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local token = redis.call('GET', key)
  if not token then
    token = ARGV[1]
    redis.call('SET', key, token, 'PX', keepMs)
  elseif redis.call('PTTL', key) < keepMs then
    redis.call('PEXPIRE', key, keepMs)
  end
  tokens[i] = token
end
return tokens
