-- Shared by every queue script. A queue's keys, all under the queue's hash tag (one slot,
-- cluster-safe); each script binds those it takes with `--- @keys` (as `waitKey`, ...) and calls
-- only the functions below whose keys it binds:
--   wait       ZSET  id -> -priority * PRIORITY_SPAN + sequence (lowest first)
--   active     ZSET  id -> lease deadline (ms, Redis clock)
--   delayed    ZSET  id -> due time (ms, Redis clock)
--   jobs       HASH  id -> record (header JSON, newline, encoded payload), immutable
--   state      HASH  id -> state (stateValue below)
--   errors     HASH  id -> JSON array of the last attempts' errors
--   results    HASH  id -> encoded return value of a completed job (when it returned one)
--   progress   HASH  id -> encoded progress the handler last reported
--   dead       ZSET  id -> time it died (bounded: trimFinished)
--   completed  ZSET  id -> time it completed (bounded: trimFinished)
--   seq        STRING counter for FIFO order and claim tokens
--   wake       LIST  at most one token; idle workers BLPOP it
--   paused     STRING present while the queue is paused
--   events     STREAM lifecycle events (capped), written only while `listening` exists
--   listening  STRING kept alive (with an expiry) by each process reading `events`
--   limits     HASH  queue-wide limits: concurrency, rateMax, rateMs, groupConcurrency
--   starts     ZSET  claim token -> start time, within the rate limit's window (allowedStarts)
--   gwait      ZSET  waiting jobs of groups, all at score 0: `group \0 order \0 id` (groupMember)
--   gpos       HASH  id -> its gwait member, while a grouped job waits
--   groups     ZSET  group -> turn: the groups served next, round-robin (markReady)
--   gactive    HASH  group -> how many of its jobs are active
--   schedulers HASH  scheduler id -> definition JSON (pattern, job template, last slot fired)
--   schedule   ZSET  scheduler id -> its next slot (ms, Redis clock)

-- Scores are doubles: priority (|p| <= 1000) times 2^42 plus a sequence below 2^42 stays under
-- 2^53, so every score is an exact integer. Lua would print such numbers with 14 significant
-- digits, hence string.format('%.0f').
local PRIORITY_SPAN = 4398046511104
local MAX_HISTORY = 10

-- The Redis clock, so every worker and producer agrees on due times and lease deadlines.
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A job's state, `attemptsMade|maxAttempts|priority|claimToken` and `|group` for a job of a
-- group (the token is empty while the job is not claimed), is written by stateValue() and
-- unheldState() and read by parseState() and unheldState() only.
local function stateValue(made, max, pri, token, group)
  local value = made .. '|' .. max .. '|' .. pri .. '|' .. token
  if group ~= '' then value = value .. '|' .. group end
  return value
end

-- made, max, pri as numbers, the claim token and the group ('' for none); nothing for a
-- missing (false) state.
local function parseState(s)
  if not s then return nil end
  local made, max, pri, token, group = string.match(s, '^(%d+)|(%d+)|(-?%d+)|(%d*)|?(.*)$')
  return tonumber(made), tonumber(max), tonumber(pri), token, group
end

-- The state with its claim token cleared, the token it held and the group ('' for none);
-- nothing for a missing (false) state. Strings only: completing a job converts no number.
local function unheldState(s)
  if not s then return nil end
  local head, token, tail = string.match(s, '^(%d+|%d+|%-?%d+|)(%d*)(.*)$')
  if not head then return nil end
  return head .. tail, token, string.sub(tail, 2)
end

local function readState(id)
  return parseState(redis.call('HGET', stateKey, id))
end

local function writeState(id, made, max, pri, token, group)
  redis.call('HSET', stateKey, id, stateValue(made, max, pri, token, group))
end

-- At most one token: it wakes one idle worker, which passes it on while jobs remain.
local function wake()
  if redis.call('LLEN', wakeKey) == 0 then redis.call('RPUSH', wakeKey, '1') end
end

-- A grouped job's member of gwait: ZRANGEBYLEX orders a group's members by priority (higher
-- first), then FIFO. Group names hold no NUL (checked by the library).
local function groupMember(group, pri, seq, id)
  return group .. '\0' .. string.format('%04d%015d', 1000 - pri, seq) .. '\0' .. id
end

-- The job id in a gwait member (after the group, its NUL, the 19-character order and a NUL).
local function memberId(member)
  return string.sub(member, string.find(member, '\0', 1, true) + 21)
end

-- The group's next waiting member, or nil.
local function groupHead(group)
  return redis.call('ZRANGEBYLEX', gwaitKey, '[' .. group .. '\0', '(' .. group .. '\1',
    'LIMIT', 0, 1)[1]
end

local function groupLimit()
  return tonumber(redis.call('HGET', limitsKey, 'groupConcurrency'))
end

-- Puts a group at the back of the serving rotation if it is not in it, has jobs waiting and is
-- under the per-group limit.
local function markReady(group, limit)
  if redis.call('ZSCORE', groupsKey, group) then return end
  if limit and tonumber(redis.call('HGET', gactiveKey, group) or '0') >= limit then return end
  if not groupHead(group) then return end
  redis.call('ZADD', groupsKey, redis.call('INCR', seqKey), group)
end

-- Queues a job behind its priority's others (or ahead of them, `front`, for a handed-back job);
-- a job of a group in its group's run.
local function enqueue(id, pri, front, group)
  local seq = 0
  if not front then seq = redis.call('INCR', seqKey) end
  if group == '' then
    redis.call('ZADD', waitKey, string.format('%.0f', -pri * PRIORITY_SPAN + seq), id)
    return
  end
  local member = groupMember(group, pri, seq, id)
  redis.call('ZADD', gwaitKey, 0, member)
  redis.call('HSET', gposKey, id, member)
  markReady(group, groupLimit())
end

-- A job of `group` stopped running (finished, failed, handed back, expired or removed): its
-- slot frees, and the group rejoins the rotation if it has jobs waiting.
local function leaveGroup(group)
  if group == '' then return end
  if redis.call('HINCRBY', gactiveKey, group, -1) <= 0 then
    redis.call('HDEL', gactiveKey, group)
  end
  if not redis.call('ZSCORE', groupsKey, group) and groupHead(group) then
    markReady(group, groupLimit())
    wake()
  end
end

-- Drops a waiting job of a group from its group's run.
local function unqueueGrouped(id)
  local member = redis.call('HGET', gposKey, id)
  if not member then return false end
  redis.call('ZREM', gwaitKey, member)
  redis.call('HDEL', gposKey, id)
  return true
end

local function recordError(id, attempt, message, at)
  local raw = redis.call('HGET', errorsKey, id)
  local history = {}
  -- An unreadable history (written by hand) is dropped: failing here would stop every claim.
  if raw then
    local ok, decoded = pcall(cjson.decode, raw)
    if ok and type(decoded) == 'table' then history = decoded end
  end
  history[#history + 1] = { attempt = attempt, error = message, at = at }
  while #history > MAX_HISTORY do table.remove(history, 1) end
  redis.call('HSET', errorsKey, id, cjson.encode(history))
end

-- Most events the stream keeps (approximately: trimmed by whole stream nodes, cheaply).
local EVENTS_MAX = 10000
-- Whether someone reads the events: read once per script call, so a queue nobody watches pays
-- one EXISTS per call and no stream writes.
local listening = nil

-- The job name in a record's header, or '' (the header is JSON before the first newline).
local function nameOf(record)
  if not record then return '' end
  local newline = string.find(record, '\n', 1, true)
  if not newline then return '' end
  local ok, header = pcall(cjson.decode, string.sub(record, 1, newline - 1))
  if ok and type(header) == 'table' and type(header.n) == 'string' then return header.n end
  return ''
end

-- Appends a lifecycle event (`data` optional; `record` saves reading the job's name again).
local function emit(event, id, data, record)
  if listening == nil then listening = redis.call('EXISTS', listeningKey) == 1 end
  if not listening then return end
  record = record or redis.call('HGET', jobsKey, id)
  redis.call('XADD', eventsKey, 'MAXLEN', '~', EVENTS_MAX, '*',
    'e', event, 'i', id, 'n', nameOf(record), 'd', data or '')
end

-- Adds jobs given as `args`, 6 per job: id, record, maxAttempts, priority, delayMs, group
-- ('' for none); then wakes an idle worker. A job whose id is still waiting, active or delayed
-- is left as it is (dedup by jobId), and so is a repeat of an id within `args`; a dead or
-- completed job with that id is replaced by the new one. A fixed number of Redis calls whatever
-- the count. Returns how many were added.
local function addJobs(now, args)
  local ids = {}
  for i = 1, #args, 6 do ids[#ids + 1] = args[i] end
  local existing = redis.call('HMGET', stateKey, unpack(ids))
  local seq = tonumber(redis.call('GET', seqKey) or '0')
  local seen, records, states, waiting, delayed = {}, {}, {}, {}, {}
  -- Jobs of groups: their gwait members, positions, and the groups to put in the rotation, in
  -- the order they first appear.
  local grouped, positions, groups, inGroups = {}, {}, {}, {}
  local firstSeq = seq
  for k, id in ipairs(ids) do
    local i = (k - 1) * 6 + 1
    local exists = existing[k] ~= false or seen[id]
    if existing[k] and not seen[id] and (redis.call('ZREM', deadKey, id) == 1
        or redis.call('ZREM', completedKey, id) == 1) then
      redis.call('HDEL', errorsKey, id)
      redis.call('HDEL', resultsKey, id)
      redis.call('HDEL', progressKey, id)
      exists = false
    end
    if not exists then
      seen[id] = true
      local pri, delay, group = tonumber(args[i + 3]), tonumber(args[i + 4]), args[i + 5]
      records[#records + 1] = id
      records[#records + 1] = args[i + 1]
      states[#states + 1] = id
      states[#states + 1] = stateValue(0, args[i + 2], args[i + 3], '', group)
      if delay > 0 then
        delayed[#delayed + 1] = now + delay
        delayed[#delayed + 1] = id
      elseif group ~= '' then
        seq = seq + 1
        local member = groupMember(group, pri, seq, id)
        grouped[#grouped + 1] = 0
        grouped[#grouped + 1] = member
        positions[#positions + 1] = id
        positions[#positions + 1] = member
        if not inGroups[group] then
          inGroups[group] = true
          groups[#groups + 1] = group
        end
      else
        seq = seq + 1
        waiting[#waiting + 1] = string.format('%.0f', -pri * PRIORITY_SPAN + seq)
        waiting[#waiting + 1] = id
      end
    end
  end
  if #records > 0 then
    redis.call('HSET', jobsKey, unpack(records))
    redis.call('HSET', stateKey, unpack(states))
  end
  if #waiting > 0 then redis.call('ZADD', waitKey, unpack(waiting)) end
  if #grouped > 0 then
    redis.call('ZADD', gwaitKey, unpack(grouped))
    redis.call('HSET', gposKey, unpack(positions))
  end
  if seq > firstSeq then redis.call('SET', seqKey, string.format('%.0f', seq)) end
  -- After the SET: markReady() takes its turn numbers from the same counter.
  if #groups > 0 then
    local limit = groupLimit()
    for _, group in ipairs(groups) do markReady(group, limit) end
  end
  if #delayed > 0 then redis.call('ZADD', delayedKey, unpack(delayed)) end
  for i = 1, #records, 2 do emit('added', records[i], nil, records[i + 1]) end
  wake()
  return #records / 2
end

-- Most finished jobs one trim drops, so a settling call stays short even right after a keep
-- bound was lowered under a long list; each later call trims again until the bound holds.
local TRIM_BATCH = 1000

-- Removes every trace of jobs: their entry in `listKey` (the one list they are in), record,
-- state (attempts, and the id's dedup), errors, result and progress.
local function forget(listKey, ids)
  redis.call('ZREM', listKey, unpack(ids))
  redis.call('HDEL', jobsKey, unpack(ids))
  redis.call('HDEL', stateKey, unpack(ids))
  redis.call('HDEL', errorsKey, unpack(ids))
  redis.call('HDEL', resultsKey, unpack(ids))
  redis.call('HDEL', progressKey, unpack(ids))
end

-- Keeps the newest `keep.count` jobs of a finished list (dead, completed), and none that
-- finished `keep.ms` or more ago. Run by the scripts that add to the list, right after they do:
-- the lists never need a sweeper. With `keep.slack`, the count is trimmed only once it is over
-- by more than that (like XADD's `MAXLEN ~`): one trim then serves many calls, at the price of
-- holding up to `keep.slack` more jobs between trims.
local function trimFinished(listKey, keep, now)
  local old = redis.call('ZRANGEBYSCORE', listKey, '-inf', now - keep.ms, 'LIMIT', 0, TRIM_BATCH)
  if #old > 0 then forget(listKey, old) end
  local excess = redis.call('ZCARD', listKey) - keep.count
  if excess > (keep.slack or 0) then
    forget(listKey, redis.call('ZRANGE', listKey, 0, math.min(excess, TRIM_BATCH) - 1))
  end
end

-- A failed attempt (`message` its error): retry after `delay` ms while attempts remain, else
-- dead; `final` buries it whatever attempts remain. Returns 1 (will retry) or 2 (dead); after a
-- 2 the caller trims the dead list.
local function retryOrBury(id, made, max, pri, delay, now, final, message, group)
  writeState(id, made, max, pri, '', group)
  leaveGroup(group)
  if final or made >= max then
    redis.call('ZADD', deadKey, now, id)
    emit('dead', id, message)
    return 2
  end
  emit('retrying', id, message)
  if delay > 0 then
    redis.call('ZADD', delayedKey, now + delay, id)
    wake()
  else
    enqueue(id, pri, false, group)
  end
  return 1
end

-- Moves due delayed jobs to wait, and jobs whose lease expired (worker crashed or frozen) back
-- to wait with their attempt counted, so any live worker recovers them. `keep` bounds the dead
-- list if that buries jobs.
local function promoteAndRecover(now, keep)
  local due = redis.call('ZRANGEBYSCORE', delayedKey, '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    redis.call('ZREM', delayedKey, id)
    local made, _, pri, _, group = readState(id)
    if made then enqueue(id, pri, false, group) end
  end
  local expired = redis.call('ZRANGEBYSCORE', activeKey, '-inf', now, 'LIMIT', 0, 100)
  local buried = false
  for _, id in ipairs(expired) do
    redis.call('ZREM', activeKey, id)
    local made, max, pri, _, group = readState(id)
    if made then
      local message = 'lease expired: the worker crashed, froze or lost Redis'
      recordError(id, made, message, now)
      if retryOrBury(id, made, max, pri, 0, now, false, message, group) == 2 then
        buried = true
      end
    end
  end
  if buried then trimFinished(deadKey, keep, now) end
end

-- Milliseconds until the next delayed job is due, the next lease expires or `slotAt` (a
-- scheduler's next slot, or nil) comes; -1 when none.
local function nextDueIn(now, slotAt)
  local nextAt = slotAt or -1
  local d = redis.call('ZRANGE', delayedKey, 0, 0, 'WITHSCORES')
  if d[2] and (nextAt < 0 or tonumber(d[2]) < nextAt) then nextAt = tonumber(d[2]) end
  local a = redis.call('ZRANGE', activeKey, 0, 0, 'WITHSCORES')
  if a[2] and (nextAt < 0 or tonumber(a[2]) < nextAt) then nextAt = tonumber(a[2]) end
  if nextAt < 0 then return -1 end
  return math.max(0, nextAt - now)
end

-- Queue-wide limits (setGlobalConcurrency, setRateLimit): {concurrency, rateMax, rateMs}, each
-- nil when not set. Read once per claiming call.
local function readLimits()
  local l = redis.call('HMGET', limitsKey, 'concurrency', 'rateMax', 'rateMs', 'groupConcurrency')
  return {
    concurrency = tonumber(l[1]), rateMax = tonumber(l[2]), rateMs = tonumber(l[3]),
    groupConcurrency = tonumber(l[4]),
  }
end

-- Takes up to `count` grouped jobs, one per group per turn, round-robin, each group under
-- `limit` active jobs (nil: no limit). Returns their ids.
local function claimFromGroups(count, limit)
  local ids = {}
  while #ids < count do
    local turn = redis.call('ZPOPMIN', groupsKey, 1)
    if #turn == 0 then break end
    local group = turn[1]
    local active = tonumber(redis.call('HGET', gactiveKey, group) or '0')
    local member = groupHead(group)
    -- A group left in the rotation with nothing waiting, or over a lowered limit, drops out;
    -- leaveGroup() brings it back.
    if member and not (limit and active >= limit) then
      redis.call('ZREM', gwaitKey, member)
      local id = memberId(member)
      redis.call('HDEL', gposKey, id)
      active = redis.call('HINCRBY', gactiveKey, group, 1)
      ids[#ids + 1] = id
      if (not limit or active < limit) and groupHead(group) then
        redis.call('ZADD', groupsKey, redis.call('INCR', seqKey), group)
      end
    end
  end
  return ids
end

-- How many of `count` jobs may start now under `limits`, and, when the rate limit allows none,
-- in how many ms one may (-1: not rate limited; a concurrency slot frees with a wake-up).
local function allowedStarts(limits, count, now)
  local allowed, waitMs = count, -1
  if limits.concurrency then
    allowed = math.min(allowed, limits.concurrency - redis.call('ZCARD', activeKey))
  end
  if limits.rateMax then
    -- A sliding log of start times: any window of rateMs holds at most rateMax starts.
    redis.call('ZREMRANGEBYSCORE', startsKey, '-inf', now - limits.rateMs)
    local free = limits.rateMax - redis.call('ZCARD', startsKey)
    if free <= 0 then
      local oldest = redis.call('ZRANGE', startsKey, 0, 0, 'WITHSCORES')
      waitMs = math.max(1, tonumber(oldest[2]) + limits.rateMs - now)
    end
    allowed = math.min(allowed, free)
  end
  return math.max(allowed, 0), waitMs
end

-- Claims up to `count` jobs under a lease (fewer if a queue-wide limit says so), with a fixed
-- number of Redis calls per claim whatever the count. Appends {nextDueIn, startedAt,
-- schedulerDue, id, record, attempt, token, ...} to `reply`: startedAt is the claim's time
-- (Redis clock); nextDueIn is computed only when nothing was claimed (the worker will block),
-- else -1; schedulerDue is 1 when a scheduler's slot has come (the worker fires it:
-- fireSchedulers), else 0, checked on every claim, busy or idle, so a busy queue never starves
-- its schedulers. `keep` = { count, ms } bounds the dead list if recovering expired leases buries
-- jobs.
local function claim(reply, count, leaseMs, now, keep)
  local claimed = 0
  local head = #reply + 1
  reply[head] = -1
  reply[head + 1] = now
  reply[head + 2] = 0
  local limits = readLimits()
  local limitedFor = -1
  local slotAt
  if count > 0 then
    local first = redis.call('ZRANGE', scheduleKey, 0, 0, 'WITHSCORES')
    if first[2] then
      slotAt = tonumber(first[2])
      if slotAt <= now then reply[head + 2] = 1 end
    end
    promoteAndRecover(now, keep)
    if redis.call('EXISTS', pausedKey) == 0 then
      local allowed
      allowed, limitedFor = allowedStarts(limits, count, now)
      -- Groups first, round-robin, then the jobs without a group.
      local ids = {}
      if allowed > 0 and redis.call('EXISTS', groupsKey) == 1 then
        ids = claimFromGroups(allowed, limits.groupConcurrency)
      end
      if allowed > #ids then
        local popped = redis.call('ZPOPMIN', waitKey, allowed - #ids)
        for i = 1, #popped, 2 do ids[#ids + 1] = popped[i] end
      end
      if #ids > 0 then
        local states = redis.call('HMGET', stateKey, unpack(ids))
        local records = redis.call('HMGET', jobsKey, unpack(ids))
        -- One INCRBY gives every claimed job its own token.
        local token = redis.call('INCRBY', seqKey, #ids) - #ids
        local deadline = now + leaseMs
        local newStates, leases, starts = {}, {}, {}
        for i, id in ipairs(ids) do
          local made, max, pri, _, group = parseState(states[i])
          if made then
            made = made + 1
            token = token + 1
            newStates[#newStates + 1] = id
            newStates[#newStates + 1] = stateValue(made, max, pri, token, group)
            leases[#leases + 1] = deadline
            leases[#leases + 1] = id
            if limits.rateMax then
              starts[#starts + 1] = now
              starts[#starts + 1] = token
            end
            reply[#reply + 1] = id
            reply[#reply + 1] = records[i]
            reply[#reply + 1] = made
            reply[#reply + 1] = token
            claimed = claimed + 1
            emit('active', id, made, records[i])
          end
        end
        if claimed > 0 then
          redis.call('HSET', stateKey, unpack(newStates))
          redis.call('ZADD', activeKey, unpack(leases))
          if limits.rateMax then redis.call('ZADD', startsKey, unpack(starts)) end
          -- More jobs than we took: pass the wake-up on to the next idle worker.
          if #ids == count and (redis.call('ZCARD', waitKey) > 0
              or redis.call('EXISTS', groupsKey) == 1) then
            wake()
          end
        end
      end
    end
  end
  -- Slots left free under a global concurrency limit (this caller wanted fewer, or none, as a
  -- stopping worker does): wake an idle worker to take them. Never when the limit is reached,
  -- so idle workers are not woken to find nothing.
  if limits.concurrency and limits.concurrency > redis.call('ZCARD', activeKey)
      and (redis.call('ZCARD', waitKey) > 0 or redis.call('EXISTS', groupsKey) == 1)
      and redis.call('EXISTS', pausedKey) == 0 then
    wake()
  end
  if claimed == 0 then
    local due = nextDueIn(now, slotAt)
    if limitedFor >= 0 and (due < 0 or limitedFor < due) then due = limitedFor end
    reply[head] = due
  end
  return reply
end
