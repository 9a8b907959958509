-- Reads jobs for inspection, in one snapshot: the given ids, or a page of one list.
--   KEYS: wait, active, delayed, completed, dead, jobs, state, errors, results, progress, gwait,
--         gpos (see includes/queue.lua)
--   ARGV[1] '' to read the ids ARGV[2..]; else a list (waiting, active, delayed, completed,
--           dead), ARGV[2] offset and ARGV[3] how many (completed and dead newest first, the
--           others in the order they are served; waiting: jobs without a group, then those of
--           groups, by group)
-- Returns {id, list, score, record, state, errors, progress, result, ...}, 8 per job: list is
-- where the job is ('' in none: unknown id), score its score there (waiting: the order; active:
-- the lease deadline; delayed: the due time; completed, dead: when it finished); absent fields
-- are nil.
--- @keys wait active delayed completed dead jobs state errors results progress gwait gpos
--- @include "includes/queue"

local lists = {
  waiting = waitKey, active = activeKey, delayed = delayedKey,
  completed = completedKey, dead = deadKey,
}
local order = { 'waiting', 'active', 'delayed', 'completed', 'dead' }

local reply = {}
local function add(id, list, score)
  reply[#reply + 1] = id
  reply[#reply + 1] = list
  reply[#reply + 1] = score
  reply[#reply + 1] = redis.call('HGET', jobsKey, id)
  reply[#reply + 1] = redis.call('HGET', stateKey, id)
  reply[#reply + 1] = redis.call('HGET', errorsKey, id)
  reply[#reply + 1] = redis.call('HGET', progressKey, id)
  reply[#reply + 1] = redis.call('HGET', resultsKey, id)
end

if ARGV[1] == '' then
  for i = 2, #ARGV do
    local id, found = ARGV[i], false
    for _, list in ipairs(order) do
      local score = redis.call('ZSCORE', lists[list], id)
      if score then
        add(id, list, score)
        found = true
        break
      end
    end
    if not found and redis.call('HEXISTS', gposKey, id) == 1 then
      add(id, 'waiting', false)
      found = true
    end
    if not found then add(id, '', false) end
  end
else
  local list = ARGV[1]
  local first, last = tonumber(ARGV[2]), tonumber(ARGV[2]) + tonumber(ARGV[3]) - 1
  local page
  if list == 'completed' or list == 'dead' then
    page = redis.call('ZREVRANGE', lists[list], first, last, 'WITHSCORES')
  else
    page = redis.call('ZRANGE', lists[list], first, last, 'WITHSCORES')
  end
  for i = 1, #page, 2 do add(page[i], list, page[i + 1]) end
  if list == 'waiting' and #page / 2 < tonumber(ARGV[3]) then
    -- Past the jobs without a group: those of groups (all at score 0, in gwait's order).
    local skip = math.max(0, first - redis.call('ZCARD', waitKey))
    local members = redis.call('ZRANGE', gwaitKey, skip, skip + tonumber(ARGV[3]) - #page / 2 - 1)
    for _, member in ipairs(members) do add(memberId(member), list, false) end
  end
end
return reply
