--[[
  Record state: the latest desired version of one record for one connector, what is in flight,
  what was delivered, the record's dead letter, and the connector's accounting counters. Every
  transition is one call of this script, so record, dead-letter queue and counters never disagree.

  Record hash fields:
    v     latest accepted version           a     its action (u = upsert, d = delete)
    pend  1 while the latest version is not yet claimed by a worker (absent otherwise)
    c     version claimed by a worker (in flight)   ca  its action
    att   attempts spent on c
    j     sequence of the record's current job (job id suffix)
    dv    delivered version   da  its action  id  CRM id  dt  delivered at (ms)
    t0    when the latest version was accepted (ms), kept while work is owed
    dl    id of the record's dead letter while it is in the queue
    u     until when (ms) a timed-out request of this record may still land at the CRM
    r     the rule that decided the latest version (changes sent as events, `POST /v1/events`)
    sc    '<job seq>:<stalls>': how many times BullMQ had found that job stalled at its last claim
    tp    W3C traceparent of the latest accepted version's producer span, while it waits for a worker
    ctp   the traceparent of the version in flight (moved from tp at its claim): every run of the
          record's job for that version, retries and waits included, joins that trace

  Counters hash fields: accepted, delivered, superseded, deadLettered, retried, open, replayed.
  Invariant: accepted = delivered + superseded + deadLettered + open. A replayed dead letter moves
  from deadLettered back to open; a dead letter whose record later delivers a newer version moves
  from deadLettered to superseded.

  Dead letters: an entry id is `<tenant>|<object>|<recordId>|<version>` (URI-encoded parts); the
  index orders entries by time; `state` is dead or superseded; the payload is kept apart so a
  replay sends exactly what was accepted.

  KEYS[1] record hash                 KEYS[2] counters hash
  KEYS[3] dead-letter index (zset: id by time)      KEYS[4] dead-letter entries (hash: id -> JSON)
  KEYS[5] the latest version's payload (string, JSON), kept only while work is owed
  KEYS[6] the record's last error (string, JSON)
  KEYS[7] the attempts of the version in flight (list of error JSON, the last 20)
  KEYS[8] dead-letter states (hash: id -> dead | superseded)
  KEYS[9] dead-letter payloads (hash: id -> payload JSON)
  KEYS[10] records owing a job (zset: record key -> when its job was last owed, ms): the sweeper
           looks there for a job that was never queued (a crash between this script and the enqueue)
  Payload, errors and attempts live outside the record hash so that the hash keeps Redis's compact
  encoding (values under 64 bytes): a delivered record costs well under 200 bytes.

  ARGV[1] operation:
  ingest:   ARGV[2] version ('' = assign from Redis time, microseconds), ARGV[3] action, ARGV[4] payload,
            ARGV[5] the deciding rule ('' = a task, no rule), ARGV[6] traceparent ('' = none)
            -> { status ('new' | 'stale'), version, job seq or 0 when no job is owed,
                 traceparent of the waiting version this one superseded, or '' }
  claim:    ARGV[2] job seq, ARGV[3] how many times the job stalled ('' = unknown),
            ARGV[4] the connector's late-write window (ms)
            -> { 'work', version, action, payload, crm id or '', attempts, accepted at (ms), uncertain until (ms) or '',
                 traceparent or '' } | { 'idle' } | { 'stale-job' }
  complete: ARGV[2] version, ARGV[3] crm id ('' = keep), ARGV[4] action, ARGV[5] 's' when the version
            was skipped (counted superseded, not delivered), else ''
            -> 1 when more work is pending (keep going), 0 when the job is done
  retry:    ARGV[2] version, ARGV[3] error JSON, ARGV[4] until when a late write may land (ms; '' = not a timeout)
            -> attempts spent so far, or -1 when not in flight
  dead:     ARGV[2] version ('' = whatever is in flight), ARGV[3] error JSON, ARGV[4] entry id,
            ARGV[5] entry JSON (an object, without time and attempts), ARGV[6] payload JSON,
            ARGV[7] '1' when the job is gone (a new job seq is returned when work remains)
            -> 1 / 0 as complete, or the new job seq (ARGV[7] = '1'), or -1 when nothing was in flight
  replay:   ARGV[2] entry id, ARGV[3] version of the entry, ARGV[4] traceparent of the replay ('' = none)
            -> { 'replayed', job seq } | { 'superseded' } | { 'skipped', state or 'missing' }
  drop:     ARGV[2] entry id -> 1 when dropped, 0 when missing
]]
local rec, stats, dlqIndex, dlqEntries = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local payloadKey, errorKey, attemptsKey, dlqStates, dlqPayloads, owedKey = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local op = ARGV[1]
local rcall = redis.call

local function nowMs()
  local t = rcall('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function owesWork()
  return rcall('HGET', rec, 'pend') == '1' or rcall('HEXISTS', rec, 'c') == 1
end

-- The record owes a job (seq): remembered until the job closes, for the sweeper.
local function owe(seq)
  rcall('ZADD', owedKey, nowMs(), rec)
  return seq
end

-- Closes the record's job when nothing is owed, so the next change gets a fresh job id.
local function finishOrContinue()
  if owesWork() then return 1 end
  rcall('ZREM', owedKey, rec)
  rcall('HINCRBY', rec, 'j', 1)
  rcall('DEL', payloadKey)
  -- What a delivered record keeps is every byte of its cost (npm run bench: <= 200 bytes).
  rcall('HDEL', rec, 't0')
  return 0
end

local function versionOfEntry(id)
  return tonumber(string.match(id, '|(%d+)$'))
end

-- A dead letter whose record has since delivered (or accepted) a newer version is superseded.
local function supersedeDeadLetter(newerVersion)
  local id = rcall('HGET', rec, 'dl')
  if not id then return end
  local version = versionOfEntry(id)
  if version and newerVersion > version and rcall('HGET', dlqStates, id) == 'dead' then
    rcall('HSET', dlqStates, id, 'superseded')
    rcall('HINCRBY', stats, 'deadLettered', -1)
    rcall('HINCRBY', stats, 'superseded', 1)
  end
  rcall('HDEL', rec, 'dl')
end

if op == 'ingest' then
  local version = ARGV[2]
  local now = nowMs()
  local latest = tonumber(rcall('HGET', rec, 'v'))
  if version == '' then
    local t = rcall('TIME')
    version = tonumber(t[1]) * 1000000 + tonumber(t[2])
    if latest and version <= latest then version = latest + 1 end
  else
    version = tonumber(version)
  end
  rcall('HINCRBY', stats, 'accepted', 1)
  local status = 'new'
  local supersededTrace = ''
  if latest and version <= latest then
    rcall('HINCRBY', stats, 'superseded', 1)
    status = 'stale'
  else
    if rcall('HGET', rec, 'pend') == '1' then
      rcall('HINCRBY', stats, 'superseded', 1)
      supersededTrace = rcall('HGET', rec, 'tp') or ''
    else
      rcall('HINCRBY', stats, 'open', 1)
    end
    rcall('HSET', rec, 'v', version, 'a', ARGV[3], 'pend', 1, 't0', now)
    if ARGV[5] ~= '' then rcall('HSET', rec, 'r', ARGV[5]) else rcall('HDEL', rec, 'r') end
    if ARGV[6] ~= '' then rcall('HSET', rec, 'tp', ARGV[6]) else rcall('HDEL', rec, 'tp') end
    rcall('SET', payloadKey, ARGV[4])
    if rcall('HEXISTS', rec, 'j') == 0 then rcall('HSET', rec, 'j', 1) end
  end
  local seq = 0
  if owesWork() then
    seq = tonumber(rcall('HGET', rec, 'j'))
    if rcall('ZSCORE', owedKey, rec) == false then owe(seq) end
  end
  return { status, string.format('%d', version), seq, supersededTrace }
end

if op == 'claim' then
  if rcall('HGET', rec, 'j') ~= ARGV[2] then return { 'stale-job' } end
  -- The job stalled since it last claimed this record: its worker died or froze, perhaps with a
  -- request on the wire that may still land. Like a timeout, that keeps the record unsettled for
  -- the late-write window, so that the newest version is sent again after it.
  local stalls = tonumber(ARGV[3] or '')
  if stalls and stalls > 0 then
    local seenSeq, seenStalls = string.match(rcall('HGET', rec, 'sc') or '', '^(%d+):(%d+)$')
    local seen = (seenSeq == ARGV[2]) and tonumber(seenStalls) or 0
    if stalls > seen then
      rcall('HSET', rec, 'sc', ARGV[2] .. ':' .. stalls)
      if rcall('HEXISTS', rec, 'c') == 1 then
        local until_ = nowMs() + tonumber(ARGV[4])
        if until_ > tonumber(rcall('HGET', rec, 'u') or '0') then rcall('HSET', rec, 'u', until_) end
      end
    end
  end
  if rcall('HGET', rec, 'pend') == '1' then
    if rcall('HEXISTS', rec, 'c') == 1 then
      -- a newer version arrived while the claimed one waited for a retry: the older one is superseded
      rcall('HINCRBY', stats, 'superseded', 1)
      rcall('HINCRBY', stats, 'open', -1)
    end
    local f = rcall('HMGET', rec, 'v', 'a', 'tp')
    rcall('HSET', rec, 'c', f[1], 'ca', f[2], 'att', 0)
    if f[3] then rcall('HSET', rec, 'ctp', f[3]) else rcall('HDEL', rec, 'ctp') end
    rcall('HDEL', rec, 'tp', 'pend')
    rcall('DEL', attemptsKey)
  end
  local f = rcall('HMGET', rec, 'c', 'ca', 'id', 'att', 't0', 'u', 'ctp')
  if not f[1] then
    finishOrContinue()
    return { 'idle' }
  end
  return { 'work', f[1], f[2], rcall('GET', payloadKey) or '', f[3] or '', f[4] or '0', f[5] or '0', f[6] or '', f[7] or '' }
end

if op == 'complete' then
  if rcall('HGET', rec, 'c') ~= ARGV[2] then return finishOrContinue() end
  rcall('HINCRBY', stats, 'open', -1)
  if ARGV[5] == 's' then
    -- Skipped: an echo of our own write, or the other side won a conflict. Nothing was sent, so
    -- the delivered version stays what it was.
    rcall('HINCRBY', stats, 'superseded', 1)
  else
    rcall('HINCRBY', stats, 'delivered', 1)
    rcall('HSET', rec, 'dv', ARGV[2], 'da', ARGV[4], 'dt', nowMs())
    if ARGV[4] == 'd' then
      rcall('HDEL', rec, 'id')
    elseif ARGV[3] ~= '' then
      rcall('HSET', rec, 'id', ARGV[3])
    end
  end
  rcall('HDEL', rec, 'c', 'ca', 'att', 'u', 'ctp')
  rcall('DEL', errorKey, attemptsKey)
  supersedeDeadLetter(tonumber(ARGV[2]))
  return finishOrContinue()
end

if op == 'retry' then
  if rcall('HGET', rec, 'c') ~= ARGV[2] then return -1 end
  rcall('HINCRBY', stats, 'retried', 1)
  if ARGV[4] ~= '' then
    local until_ = tonumber(rcall('HGET', rec, 'u') or '0')
    if tonumber(ARGV[4]) > until_ then rcall('HSET', rec, 'u', ARGV[4]) end
  end
  rcall('SET', errorKey, ARGV[3])
  rcall('RPUSH', attemptsKey, ARGV[3])
  rcall('LTRIM', attemptsKey, -20, -1)
  return rcall('HINCRBY', rec, 'att', 1)
end

if op == 'dead' then
  local inFlight = rcall('HGET', rec, 'c')
  if not inFlight or (ARGV[2] ~= '' and inFlight ~= ARGV[2]) then
    if ARGV[7] == '1' then
      -- Nothing of this version to dead-letter, but the job is gone: newer work needs a new job.
      if owesWork() then return owe(rcall('HINCRBY', rec, 'j', 1)) end
      rcall('ZREM', owedKey, rec)
      return -1
    end
    return finishOrContinue()
  end
  local now = nowMs()
  local id = ARGV[4]
  rcall('HINCRBY', stats, 'deadLettered', 1)
  rcall('HINCRBY', stats, 'open', -1)
  rcall('SET', errorKey, ARGV[3])
  rcall('RPUSH', attemptsKey, ARGV[3])
  local attempts = rcall('LRANGE', attemptsKey, -20, -1)
  rcall('DEL', attemptsKey)
  rcall('HDEL', rec, 'c', 'ca', 'att', 'ctp')
  -- an older dead letter of this record is superseded by this newer one
  supersedeDeadLetter(tonumber(inFlight))
  rcall('ZADD', dlqIndex, now, id)
  rcall('HSET', dlqEntries, id, '{"at":' .. now .. ',"attempts":[' .. table.concat(attempts, ',') .. '],' .. string.sub(ARGV[5], 2))
  rcall('HSET', dlqStates, id, 'dead')
  rcall('HSET', dlqPayloads, id, ARGV[6])
  rcall('HSET', rec, 'dl', id)
  if ARGV[7] == '1' then
    if owesWork() then return owe(rcall('HINCRBY', rec, 'j', 1)) end
    rcall('ZREM', owedKey, rec)
    rcall('HINCRBY', rec, 'j', 1)
    rcall('DEL', payloadKey)
    rcall('HDEL', rec, 't0')
    return 0
  end
  return finishOrContinue()
end

if op == 'replay' then
  local id = ARGV[2]
  local state = rcall('HGET', dlqStates, id)
  if state ~= 'dead' then return { 'skipped', state or 'missing' } end
  local version = tonumber(ARGV[3])
  local latest = tonumber(rcall('HGET', rec, 'v'))
  local delivered = tonumber(rcall('HGET', rec, 'dv'))
  if (latest and latest > version) or (delivered and delivered >= version) or owesWork() then
    rcall('HSET', dlqStates, id, 'superseded')
    rcall('HINCRBY', stats, 'deadLettered', -1)
    rcall('HINCRBY', stats, 'superseded', 1)
    if rcall('HGET', rec, 'dl') == id then rcall('HDEL', rec, 'dl') end
    return { 'superseded' }
  end
  -- The dead version is still the record's newest: it is owed again, through today's pipeline,
  -- with a fresh acceptance time (retry.maxAge counts from the replay).
  rcall('SET', payloadKey, rcall('HGET', dlqPayloads, id) or 'null')
  rcall('HSET', rec, 'pend', 1, 't0', nowMs())
  if ARGV[4] and ARGV[4] ~= '' then rcall('HSET', rec, 'tp', ARGV[4]) else rcall('HDEL', rec, 'tp') end
  if rcall('HEXISTS', rec, 'j') == 0 then rcall('HSET', rec, 'j', 1) end
  rcall('HDEL', rec, 'dl')
  rcall('DEL', errorKey)
  rcall('HINCRBY', stats, 'deadLettered', -1)
  rcall('HINCRBY', stats, 'open', 1)
  rcall('HINCRBY', stats, 'replayed', 1)
  rcall('ZREM', dlqIndex, id)
  rcall('HDEL', dlqEntries, id)
  rcall('HDEL', dlqStates, id)
  rcall('HDEL', dlqPayloads, id)
  return { 'replayed', owe(tonumber(rcall('HGET', rec, 'j'))) }
end

if op == 'drop' then
  local id = ARGV[2]
  if rcall('HEXISTS', dlqEntries, id) == 0 then return 0 end
  rcall('ZREM', dlqIndex, id)
  rcall('HDEL', dlqEntries, id)
  rcall('HDEL', dlqStates, id)
  rcall('HDEL', dlqPayloads, id)
  if rcall('HGET', rec, 'dl') == id then rcall('HDEL', rec, 'dl') end
  return 1
end

return redis.error_reply('unknown operation ' .. tostring(op))
