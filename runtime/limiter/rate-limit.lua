--[[
  rate-limit.lua: distributed multi-window rate limiter for ONE account (recsync).
  See docs/reference/rate-limits.md for the algorithm, its guarantee and its utilisation.

  Every window (N requests per P ms) is split into buckets of w = max(1, floor(P / 100)) ms,
  K = ceil(P / w) of them (K = 100 when P is a multiple of 100, K = P when P < 100). A request at
  time t is counted in bucket b(t) = floor(t / w); the count used at time t is the sum of the K + 1
  buckets b(t)-K .. b(t), which covers (t-P, t] and more, so it never under-counts.
  Each window keeps two hashes:
    scheduled  every request at its slot (reservations) or at its real start: slots are handed out
               so that this count + 1 <= N, which makes holders that come on time never wait;
    started    every request at its real start: a request starts only if this count + 1 <= N in
               every window. This alone makes the limit hold, however late a holder comes back.
  Redis TIME is the only clock (ms = seconds * 1000 + floor(microseconds / 1000)).

  Input (n = number of windows):
    KEYS[1]          meta hash   <prefix>:{<account>}:meta
                                   fields: last    = ms of the latest slot handed out (monotonic)
                                           blocked = ms before which no request may start (push back)
                                           probe   = ms of the last push back, kept until a probe
                                                     clears it (the account is still throttled)
    KEYS[2]          zset        <prefix>:{<account>}:res   member = holder, score = slot ms
    KEYS[3..2+n]     hash        <prefix>:{<account>}:w:<N>:<P>           scheduled; field = bucket, value = count
    KEYS[3+n..2+2n]  hash        <prefix>:{<account>}:w:<N>:<P>:started   started;   field = bucket, value = count
                     (both also hold '_pruned' = the oldest bucket kept at the last prune)

    ARGV[1]          op: 'acquire' | 'pushback' | 'clear' | 'release' | 'usage'
    ARGV[2]          acquire, release: holder (a job id)
                     pushback:         ms (integer >= 0): nothing starts before now + ms
                     clear:            the probe token an acquire returned
                     usage:            ignored
    ARGV[3], ARGV[4] N and P of window 1; ARGV[5], ARGV[6] of window 2; ...

  Output:
    acquire   {1, nowMs}            start now (no reservation is kept)
              {1, nowMs, token}     start now as the probe of a throttled account: nothing else
                                    starts until `clear` with this token or a new block's end
              {0, waitMs, nowMs}    the holder holds a slot; ask again (same holder) in waitMs
    pushback  {blockedUntilMs, nowMs}
    clear     {cleared (0 | 1), nowMs}  the probe was answered without a throttle: lift the block
    release   {removed (0 | 1), nowMs}
    usage     {nowMs, blockedForMs, reserved, started_1, scheduled_1, started_2, scheduled_2, ...}
              (read-only; counts of the window ending now; reserved = open reservations)

  Errors: 'ERR rate-limit: ...' for a malformed call.
]]

local op = ARGV[1]
local metaKey = KEYS[1]
local resKey = KEYS[2]
local nWindows = (#KEYS - 2) / 2
local SLACK = 1000 -- ms added to every PEXPIRE

if nWindows < 1 or nWindows ~= math.floor(nWindows) or #ARGV ~= 2 + 2 * nWindows then
  return redis.error_reply('ERR rate-limit: expected KEYS meta, res, n scheduled and n started hashes and ARGV op, arg, n N/P pairs')
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local windows = {}
local maxP = 0
for i = 1, nWindows do
  local n = tonumber(ARGV[1 + 2 * i])
  local p = tonumber(ARGV[2 + 2 * i])
  if not n or not p or n < 1 or p < 1 then
    return redis.error_reply('ERR rate-limit: window ' .. i .. ' needs positive N and P')
  end
  local w = math.max(1, math.floor(p / 100))
  windows[i] = {
    scheduled = KEYS[2 + i],
    started = KEYS[2 + nWindows + i],
    n = n,
    p = p,
    w = w,
    k = math.ceil(p / w),
  }
  if p > maxP then
    maxP = p
  end
end

local function fmt(x)
  return string.format('%d', x)
end

local function bucket(win, ms)
  return math.floor(ms / win.w)
end

-- The buckets of a hash, read once per call: HGETALL while the hash is small (the usual case: at
-- most about K + 9 fields), else HMGET of the K + 1 fields asked for.
local loaded = {}

local function load(key, from, to)
  local t = loaded[key]
  if t then
    return t
  end
  t = {}
  if redis.call('HLEN', key) <= 2 * (to - from + 1) then
    local raw = redis.call('HGETALL', key)
    for i = 1, #raw, 2 do
      local b = tonumber(raw[i]) -- skips the '_pruned' mark
      if b then
        t[b] = tonumber(raw[i + 1])
      end
    end
    loaded[key] = t
  else
    local fields = {}
    for b = from, to do
      fields[#fields + 1] = fmt(b)
    end
    local raw = redis.call('HMGET', key, unpack(fields))
    for i = 1, #raw do
      if raw[i] then
        t[from + i - 1] = tonumber(raw[i])
      end
    end
  end
  return t
end

-- Count of the window (buckets c-K .. c) of hash key.
local function windowCount(win, key, c)
  local t = load(key, c - win.k, c)
  local sum = 0
  for b = c - win.k, c do
    sum = sum + (t[b] or 0)
  end
  return sum, t
end

-- Earliest time >= start at which the window (counted in hash key) has room for one more request.
-- Every count of key lies in a bucket <= b(start), so the count only falls as time moves on: walk
-- the oldest buckets out of the window until there is room and jump to that bucket boundary.
local function earliest(win, key, start)
  local c0 = bucket(win, start)
  local sum, t = windowCount(win, key, c0)
  if sum + 1 <= win.n then
    return start
  end
  for b = c0 - win.k, c0 do
    sum = sum - (t[b] or 0)
    if sum + 1 <= win.n then
      return (b + win.k + 1) * win.w -- bucket b leaves the window at bucket b + K + 1
    end
  end
  return (c0 + win.k + 1) * win.w -- not reached: the sum is 0 after the loop and N >= 1
end

-- Drop the buckets older than every window that ends now or later, at most once per 8 buckets of
-- time (the field '_pruned' remembers the last cut), so that a hash holding many future buckets (a
-- deep backlog) is not scanned on every call.
local function prune(win, key)
  local oldest = bucket(win, now) - win.k
  local mark = tonumber(redis.call('HGET', key, '_pruned'))
  if mark and oldest - mark < 8 then
    return
  end
  local fields = redis.call('HKEYS', key)
  local stale = {}
  for i = 1, #fields do
    local b = tonumber(fields[i])
    if b and b < oldest then
      stale[#stale + 1] = fields[i]
    end
  end
  if #stale > 0 then
    redis.call('HDEL', key, unpack(stale))
  end
  redis.call('HSET', key, '_pruned', fmt(oldest))
  loaded[key] = nil
end

-- Count one request in bucket b of key; a new field that takes the hash past K + 8 fields prunes.
local function add(win, key, b)
  local v = redis.call('HINCRBY', key, fmt(b), 1)
  if loaded[key] then
    loaded[key][b] = v
  end
  if v == 1 and redis.call('HLEN', key) > win.k + 8 then
    prune(win, key)
  end
end

-- Keep each hash a little longer than its newest bucket can matter (started: only when written).
local function expireWindows(last, started)
  for i = 1, nWindows do
    local win = windows[i]
    redis.call('PEXPIRE', win.scheduled, math.max(last, now) - now + win.p + win.w + SLACK)
    if started then
      redis.call('PEXPIRE', win.started, win.p + win.w + SLACK)
    end
  end
end

local function expireMeta(last, blocked)
  redis.call('PEXPIRE', metaKey, math.max(last, blocked, now) - now + maxP + SLACK)
end

local function meta()
  local m = redis.call('HMGET', metaKey, 'last', 'blocked', 'probe')
  return tonumber(m[1]) or 0, tonumber(m[2]) or 0, tonumber(m[3])
end

-- A request starts now. While the account is throttled (a push back not yet cleared by a probe),
-- the first start after the block is the probe: it blocks the account again for the last push
-- back's length, so that one request, not the whole backlog, learns whether the throttle is over.
-- Its token (the new block's end) lets the probe's answer lift the block early.
local function started(last, probe)
  if not probe then
    return { 1, now }
  end
  local blocked = now + probe
  redis.call('HSET', metaKey, 'blocked', fmt(blocked))
  expireMeta(last, blocked)
  return { 1, now, blocked }
end

if op == 'acquire' then
  local holder = ARGV[2]
  local last, blocked, probe = meta()
  redis.call('ZREMRANGEBYSCORE', resKey, '-inf', '(' .. fmt(now - maxP))

  local slot = tonumber(redis.call('ZSCORE', resKey, holder))
  if slot then
    -- A reservation: it was counted (scheduled) when it was made; never count it again.
    local at = math.max(slot, blocked)
    if at > now then
      return { 0, at - now, now }
    end
    -- Due. It starts if the real starts leave room in every window. A holder that came on time
    -- always finds room; one that came late may find that later slots already started inside its
    -- window: it then waits (keeping its reservation) until the oldest of those starts leave.
    local ready = now
    for i = 1, nWindows do
      local t = earliest(windows[i], windows[i].started, now)
      if t > ready then
        ready = t
      end
    end
    if ready > now then
      return { 0, ready - now, now }
    end
    redis.call('ZREM', resKey, holder)
    for i = 1, nWindows do
      local win = windows[i]
      local from, to = bucket(win, slot), bucket(win, now)
      if from ~= to then
        -- move its scheduled count to where it really starts
        local field = fmt(from)
        local v = tonumber(redis.call('HGET', win.scheduled, field))
        if v and v > 1 then
          redis.call('HINCRBY', win.scheduled, field, -1)
        elseif v then
          redis.call('HDEL', win.scheduled, field)
        end
        loaded[win.scheduled] = nil
        add(win, win.scheduled, to)
      end
      add(win, win.started, to)
    end
    expireWindows(last, true)
    return started(last, probe)
  end

  -- A new request: the earliest slot at or after every earlier slot and the block at which every
  -- window has room in the scheduled counts. As those only fall after start, the slot is the
  -- latest of the windows' earliest times.
  local start = math.max(now, last, blocked)
  slot = start
  for i = 1, nWindows do
    local t = earliest(windows[i], windows[i].scheduled, start)
    if t > slot then
      slot = t
    end
  end
  for i = 1, nWindows do
    add(windows[i], windows[i].scheduled, bucket(windows[i], slot))
  end
  redis.call('HSET', metaKey, 'last', fmt(slot))
  expireMeta(slot, blocked)
  if slot <= now then
    -- Room now (so no earlier slot is pending after now): the scheduled count, which is never
    -- below the started one, had room, so the started one has too.
    for i = 1, nWindows do
      add(windows[i], windows[i].started, bucket(windows[i], now))
    end
    expireWindows(slot, true)
    return started(slot, probe)
  end
  expireWindows(slot, false)
  redis.call('ZADD', resKey, fmt(slot), holder)
  redis.call('PEXPIRE', resKey, slot - now + maxP + SLACK)
  return { 0, slot - now, now }
elseif op == 'pushback' then
  local ms = tonumber(ARGV[2])
  if not ms or ms < 0 then
    return redis.error_reply('ERR rate-limit: pushback needs ms >= 0')
  end
  local last, blocked = meta()
  if now + ms > blocked then
    blocked = now + ms
    redis.call('HSET', metaKey, 'blocked', fmt(blocked))
  end
  if ms > 0 then
    redis.call('HSET', metaKey, 'probe', fmt(ms))
  end
  expireMeta(last, blocked)
  return { blocked, now }
elseif op == 'clear' then
  local token = tonumber(ARGV[2])
  local _, blocked = meta()
  -- Only the block this probe set: a push back that came after it (another request's 429) stays.
  if not token or blocked ~= token then
    return { 0, now }
  end
  redis.call('HDEL', metaKey, 'blocked', 'probe')
  return { 1, now }
elseif op == 'release' then
  return { redis.call('ZREM', resKey, ARGV[2]), now }
elseif op == 'usage' then
  local _, blocked = meta()
  local out = { now, math.max(0, blocked - now), redis.call('ZCOUNT', resKey, fmt(now - maxP), '+inf') }
  for i = 1, nWindows do
    local win = windows[i]
    local c = bucket(win, now)
    out[#out + 1] = windowCount(win, win.started, c)
    out[#out + 1] = windowCount(win, win.scheduled, c)
  end
  return out
end

return redis.error_reply('ERR rate-limit: unknown op ' .. tostring(op))
