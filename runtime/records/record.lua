--[[
  Record state: the latest desired version of one record for one connector, what is in flight,
  what was delivered, and the connector's accounting counters. Every transition is one call of
  this script, so the record hash and the counters never disagree.

  Record hash fields:
    v     latest accepted version           a     its action (u = upsert, d = delete)
    pend  1 while the latest version is not yet claimed by a worker
    c     version claimed by a worker (in flight)   ca  its action
    att   attempts spent on c
    j     sequence of the record's current job (job id suffix)
    dv    delivered version   da  its action  id  CRM id  dt  delivered at (ms)
    t0    when the latest version was accepted (ms)

  Counters hash fields: accepted, delivered, superseded, deadLettered, retried, open.
  Invariant: accepted = delivered + superseded + deadLettered + open.

  KEYS[1] record hash
  KEYS[2] counters hash
  KEYS[3] dead-letter index (zset: entry id by time)   KEYS[4] dead-letter entries (hash: id -> JSON)
  KEYS[5] the latest version's payload (string, JSON), kept only while work is owed
  KEYS[6] the record's last error (string, JSON)
  Payload and error live outside the hash so that the hash keeps Redis's compact encoding
  (values under 64 bytes): a delivered record costs well under 200 bytes.
  ARGV[1] operation: ingest | claim | complete | retry | dead
  ingest:   ARGV[2] version ('' = assign from Redis time, microseconds), ARGV[3] action, ARGV[4] payload
            -> { status ('new' | 'stale'), version, job seq or 0 when no job is owed }
  claim:    ARGV[2] job seq
            -> { 'work', version, action, payload, crm id or '', attempts } | { 'idle' } | { 'stale-job' }
  complete: ARGV[2] version, ARGV[3] crm id ('' = keep), ARGV[4] action
            -> 1 when more work is pending (keep going), 0 when the job is done
  retry:    ARGV[2] version, ARGV[3] error JSON  -> attempts spent so far, or -1 when not in flight
  dead:     ARGV[2] version, ARGV[3] error JSON, ARGV[4] entry id, ARGV[5] entry JSON (without time)
            -> 1 when more work is pending, 0 when the job is done
]]
local rec, stats, payloadKey, errorKey = KEYS[1], KEYS[2], KEYS[5], KEYS[6]
local op = ARGV[1]
local rcall = redis.call

local function nowMs()
  local t = rcall('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Closes the record's job when nothing is owed, so the next change gets a fresh job id.
local function finishOrContinue()
  if rcall('HGET', rec, 'pend') == '1' or rcall('HEXISTS', rec, 'c') == 1 then return 1 end
  rcall('HINCRBY', rec, 'j', 1)
  rcall('DEL', payloadKey)
  return 0
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
  if latest and version <= latest then
    rcall('HINCRBY', stats, 'superseded', 1)
    status = 'stale'
  else
    if rcall('HGET', rec, 'pend') == '1' then
      rcall('HINCRBY', stats, 'superseded', 1)
    else
      rcall('HINCRBY', stats, 'open', 1)
    end
    rcall('HSET', rec, 'v', version, 'a', ARGV[3], 'pend', 1, 't0', now)
    rcall('SET', payloadKey, ARGV[4])
    if rcall('HEXISTS', rec, 'j') == 0 then rcall('HSET', rec, 'j', 1) end
  end
  local seq = 0
  if rcall('HGET', rec, 'pend') == '1' or rcall('HEXISTS', rec, 'c') == 1 then
    seq = tonumber(rcall('HGET', rec, 'j'))
  end
  return { status, string.format('%d', version), seq }
end

if op == 'claim' then
  if rcall('HGET', rec, 'j') ~= ARGV[2] then return { 'stale-job' } end
  if rcall('HGET', rec, 'pend') == '1' then
    if rcall('HEXISTS', rec, 'c') == 1 then
      -- a newer version arrived while the claimed one waited for a retry: the older one is superseded
      rcall('HINCRBY', stats, 'superseded', 1)
      rcall('HINCRBY', stats, 'open', -1)
    end
    local f = rcall('HMGET', rec, 'v', 'a')
    rcall('HSET', rec, 'c', f[1], 'ca', f[2], 'att', 0, 'pend', 0)
  end
  local f = rcall('HMGET', rec, 'c', 'ca', 'id', 'att')
  if not f[1] then
    finishOrContinue()
    return { 'idle' }
  end
  return { 'work', f[1], f[2], rcall('GET', payloadKey) or '', f[3] or '', f[4] or '0' }
end

if op == 'complete' then
  if rcall('HGET', rec, 'c') ~= ARGV[2] then return finishOrContinue() end
  rcall('HINCRBY', stats, 'delivered', 1)
  rcall('HINCRBY', stats, 'open', -1)
  rcall('HSET', rec, 'dv', ARGV[2], 'da', ARGV[4], 'dt', nowMs())
  if ARGV[4] == 'd' then
    rcall('HDEL', rec, 'id')
  elseif ARGV[3] ~= '' then
    rcall('HSET', rec, 'id', ARGV[3])
  end
  rcall('HDEL', rec, 'c', 'ca', 'att')
  rcall('DEL', errorKey)
  return finishOrContinue()
end

if op == 'retry' then
  if rcall('HGET', rec, 'c') ~= ARGV[2] then return -1 end
  rcall('HINCRBY', stats, 'retried', 1)
  rcall('SET', errorKey, ARGV[3])
  return rcall('HINCRBY', rec, 'att', 1)
end

if op == 'dead' then
  if rcall('HGET', rec, 'c') ~= ARGV[2] then return finishOrContinue() end
  local now = nowMs()
  rcall('HINCRBY', stats, 'deadLettered', 1)
  rcall('HINCRBY', stats, 'open', -1)
  rcall('SET', errorKey, ARGV[3])
  rcall('HDEL', rec, 'c', 'ca', 'att')
  rcall('ZADD', KEYS[3], now, ARGV[4])
  rcall('HSET', KEYS[4], ARGV[4], '{"at":' .. now .. ',' .. string.sub(ARGV[5], 2))
  return finishOrContinue()
end

return redis.error_reply('unknown operation ' .. tostring(op))
