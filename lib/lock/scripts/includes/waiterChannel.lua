--[[
  waiterChannel(channel, token): where to tell the waiter holding `token` about a release. Tokens
  read `[h<leaseMs>:]<instance>:<n>`; each service instance listens on `<channel>:<instance>`, so
  a release reaches only the instance of the waiter it names, not every instance waiting.
]]
local function waiterChannel(channel, token)
  local instance = string.match(token, '^h%d+:([^:]+):') or string.match(token, '^([^:]+):')
  return channel .. ':' .. instance
end
