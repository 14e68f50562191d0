-- gateway/store/ratelimit.lua: the limit checks of gateway/store/ratelimit.c
-- (pc_rl_take, pc_rl_giveback), run atomically inside Redis so that a
-- fleet of gateways shares one limit and one clock. Same arithmetic, same
-- results (ratelimit.h documents the algorithms);
-- tests/unit/test_ratelimit_lua.py checks both side by side.
--
-- One call runs one or more independent checks, in turn (gateway/store/store.c
-- sends the checks of one event-loop iteration together; their keys then
-- span several hash tags, so batches are not for Redis Cluster).
--
-- ARGV[1]  now in ms; empty in production, where redis TIME is the clock
--          of every gateway. Tests pass a fake clock here.
-- then per check:
--          n         its number of limits (1..8)
--          need      requests that wait for this answer
--          extra     requests to take ahead of need: a lease (0: none;
--                    need = extra = 0 only gives back)
--          giveback  requests taken earlier and not used, returned first
--          then 4 arguments per limit: alg ("gcra" | "sliding"), rate,
--          period_ms, burst (0 = rate; ignored by "sliding").
-- KEYS     the state of each limit of each check, in the same order. All
--          keys of one check share a Redis Cluster slot: the caller
--          hash-tags them, e.g. "pc:{user42}:l0".
--
-- Returns 8 integers per check: granted, remaining, reset_ms,
-- retry_after_ms, limit (0-based index of the most restrictive limit),
-- then over_reset_ms, over_retry_after_ms, over_limit: what a request
-- beyond the grant gets when granted < need (zeros otherwise). granted = 0
-- with need >= 1 is a refusal; with need = 0 it only means that nothing
-- was taken, and the rest is zeros. A check that grants writes every key, with PX set to the
-- moment its state equals the empty state; a refused one writes only a
-- state the clock stepping back normalised, or what giveback changed.
-- Every argument is validated before anything is written.
--
-- Numbers are Lua doubles: every value stays an integer below 2^53 (the
-- bounds below equal PC_RL_MAX_* in ratelimit.h), division goes through
-- idiv(), and values are stored with %d (Lua 5.1 formats it from a C
-- long: exact below 2^53, and much cheaper than %.0f) because tostring()
-- keeps only 14 digits.

local MAX_PERIOD, MAX_NOW, MAX_SPAN, MAX_COUNT = 2 ^ 36, 2 ^ 42, 2 ^ 50, 2 ^ 32
local SHARE = 16 -- PC_RL_LEASE_SHARE
local rcall, sfmt, floor, tonum = redis.call, string.format, math.floor, tonumber

local function idiv(a, b) -- floor(a / b), exact for integers below 2^53
  local q = floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

local function cdiv(a, b) return -idiv(-a, b) end

local function now_ms(arg)
  if arg ~= '' then return tonum(arg) end
  if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: TIME
  local tm = rcall('TIME')
  return tonum(tm[1]) * 1000 + idiv(tonum(tm[2]), 1000)
end

-- A check of one GCRA limit (the common one), on the key holding TAT in
-- us: t = the emission interval, cap = t * burst, validated. Appends its
-- 8 values to out at o. Same results as the general path below.
local function gcra1(key, t, cap, burst, need, extra, give, nowus, out, o)
  local tat, dirty = tonum(rcall('GET', key)) or 0, false
  if tat > nowus + cap then tat, dirty = nowus + cap, true end -- rl_normalize
  if give > 0 then -- pc_rl_giveback: back to full is the empty state
    if give > burst then give = burst end
    local back = 0
    if tat > nowus + give * t then back = tat - give * t end
    if back < tat then tat, dirty = back, true end
  end
  local h = 0 -- rl_headroom
  if need > 0 or extra > 0 then
    local at = tat < nowus and nowus or tat
    if at + t - nowus <= cap then h = idiv(cap - (at - nowus), t) end
  end
  local take = need < h and need or h
  local g = take + math.min(extra, idiv(h - take, SHARE))
  if g > 0 then
    if tat < nowus then tat = nowus end
    tat, dirty = tat + g * t, true
  end
  if dirty then
    local px = cdiv(tat - nowus, 1000)
    -- px is below 2^37 ms: tostring (14 digits) is exact for it
    if px > 0 then rcall('SET', key, sfmt('%d', tat), 'PX', tostring(px)) else rcall('DEL', key) end
  end
  if g == 0 and need == 0 then
    for j = 1, 8 do out[o + j] = 0 end
    return
  end
  local at = tat < nowus and nowus or tat
  local reset, retry = cdiv(at - nowus, 1000), cdiv(at + t - cap - nowus, 1000)
  if g == 0 then -- refused (rl_eval)
    out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = 0, 0, reset, retry, 0
    out[o + 6], out[o + 7], out[o + 8] = reset, retry, 0
    return
  end
  out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = g, h - g, reset, 0, 0
  if take < need then
    out[o + 6], out[o + 7], out[o + 8] = reset, retry, 0
  else
    out[o + 6], out[o + 7], out[o + 8] = 0, 0, 0
  end
end

-- Fast path, before the general path's functions are even created (a
-- script's top level runs on every call): every check has one GCRA limit
-- and valid arguments. Anything else, invalid arguments included, takes
-- the general path below, which raises the errors.
local function count_arg(s)
  local n = tonum(s)
  if n and n % 1 == 0 and n >= 0 and n <= MAX_COUNT then return n end
end

local function fast_path()
  local nargv, nkeys = #ARGV, #KEYS
  if nkeys < 1 or nargv ~= 1 + 8 * nkeys then return nil end
  local fake = ARGV[1]
  if fake ~= '' then
    fake = tonum(fake)
    if not fake or fake % 1 ~= 0 or fake < 0 or fake >= MAX_NOW then return nil end
  end
  local checks, s6, s7, s8, t, cap, burst = {}, nil, nil, nil, 0, 0, 0
  for c = 0, nkeys - 1 do
    local a = 2 + 8 * c
    if ARGV[a] ~= '1' or ARGV[a + 4] ~= 'gcra' then return nil end
    local need, extra, give = count_arg(ARGV[a + 1]), count_arg(ARGV[a + 2]), count_arg(ARGV[a + 3])
    if not (need and extra and give) then return nil end
    if ARGV[a + 5] ~= s6 or ARGV[a + 6] ~= s7 or ARGV[a + 7] ~= s8 then
      s6, s7, s8 = ARGV[a + 5], ARGV[a + 6], ARGV[a + 7]
      local rate, period, b = tonum(s6), tonum(s7), tonum(s8)
      if not (rate and period and b and rate % 1 == 0 and period % 1 == 0 and b % 1 == 0 and
              rate >= 1 and rate < MAX_COUNT and period >= 1 and period <= MAX_PERIOD and
              b >= 0 and b < MAX_COUNT) then
        return nil
      end
      if b == 0 then b = rate end
      t = cdiv(period * 1000, rate)
      if b > idiv(MAX_SPAN, t) then return nil end
      cap, burst = t * b, b
    end
    checks[c + 1] = {t, cap, burst, need, extra, give}
  end
  local nowus, out = now_ms(ARGV[1]) * 1000, {}
  for c = 1, nkeys do
    local k = checks[c]
    gcra1(KEYS[c], k[1], k[2], k[3], k[4], k[5], k[6], nowus, out, 8 * (c - 1))
  end
  return out
end

local fast = fast_path()
if fast then return fast end

-- ---- the general path ----

local function fmt(x) return sfmt('%d', x) end

local function int_arg(s, lo, hi)
  local n = tonum(s)
  if not n or n ~= floor(n) or n < lo or n > hi then
    error('ratelimit.lua: bad argument ' .. tostring(s))
  end
  return n
end

-- The limit whose 4 arguments start at ARGV[base] (pc_rl_limit_check).
local function parse_limit(base)
  local l = {alg = ARGV[base]}
  l.rate = int_arg(ARGV[base + 1], 1, MAX_COUNT - 1)
  l.period = int_arg(ARGV[base + 2], 1, MAX_PERIOD)
  l.burst = int_arg(ARGV[base + 3], 0, MAX_COUNT - 1)
  if l.burst == 0 then l.burst = l.rate end
  if l.alg == 'gcra' then
    l.t = cdiv(l.period * 1000, l.rate)
    if l.burst > idiv(MAX_SPAN, l.t) then error('ratelimit.lua: burst too large') end
    l.cap = l.t * l.burst
  elseif l.alg == 'sliding' then
    if l.rate > idiv(MAX_SPAN, l.period) then error('ratelimit.lua: rate too large') end
  else
    error('ratelimit.lua: unknown algorithm ' .. tostring(l.alg))
  end
  return l
end

-- ---- one GCRA limit: the key holds TAT in us ----

-- The stored TAT, normalised (rl_normalize): a clock that stepped back
-- caps the debt at a full bucket. Returns tat and whether it changed.
local function gcra_load(l, key, nowus)
  local tat = tonum(rcall('GET', key)) or 0
  if tat > nowus + l.cap then return nowus + l.cap, true end
  return tat, false
end

local function gcra_store(key, tat, nowus)
  local px = cdiv(tat - nowus, 1000)
  -- px is below 2^37 ms: tostring (14 digits) is exact for it
  if px > 0 then rcall('SET', key, fmt(tat), 'PX', tostring(px)) else rcall('DEL', key) end
end

-- rl_headroom: requests admitted now.
local function gcra_room(l, tat, nowus)
  if tat < nowus then tat = nowus end
  if tat + l.t - nowus > l.cap then return 0 end
  return idiv(l.cap - (tat - nowus), l.t)
end

-- rl_eval of one more request, refused: reset, retry.
local function gcra_refusal(l, tat, nowus)
  if tat < nowus then tat = nowus end
  return cdiv(tat - nowus, 1000), cdiv(tat + l.t - l.cap - nowus, 1000)
end

-- pc_rl_giveback of count for one limit.
local function gcra_giveback(l, tat, nowus, count)
  if count > l.burst then count = l.burst end
  local t = 0
  if tat > nowus + count * l.t then t = tat - count * l.t end
  if t < tat then return t, true end
  return tat, false
end

-- ---- one sliding-window limit: the key holds "start:prev:cur" ----

local function window_load(l, key, now)
  local s, prev, cur = string.match(rcall('GET', key) or '', '^(%d+):(%d+):(%d+)$')
  local w = {t = tonum(s) or 0, prev = tonum(prev) or 0, cur = tonum(cur) or 0}
  local start = now - now % l.period
  if start < w.t then
    w.t = start
    return w, true
  end
  return w, false
end

local function window_store(l, key, w, now)
  rcall('SET', key, fmt(w.t) .. ':' .. fmt(w.prev) .. ':' .. fmt(w.cur), 'PX',
        fmt(w.t + 2 * l.period - now))
end

-- rl_window_roll: the state moved to now's aligned window.
local function window_roll(l, st, now)
  local p, start = l.period, now - now % l.period
  local w = {t = st.t, prev = st.prev, cur = st.cur}
  if start == st.t + p then
    w.t, w.prev, w.cur = start, st.cur, 0
  elseif start > st.t + p then
    w.t, w.prev, w.cur = start, 0, 0
  end
  if w.prev > l.rate then w.prev = l.rate end
  if w.cur > l.rate then w.cur = l.rate end
  return w
end

local function window_room(l, st, now)
  local p = l.period
  local w = window_roll(l, st, now)
  local base, budget = w.prev * (p - (now - w.t)), l.rate * p
  if base + (w.cur + 1) * p > budget then return 0 end
  return idiv(budget - base, p) - w.cur
end

-- rl_window_retry
local function window_retry(l, w, now)
  local p, rate = l.period, l.rate
  if w.cur + 1 <= rate and w.prev > 0 then
    local e = p - idiv((rate - w.cur - 1) * p, w.prev)
    if e < p then return w.t + e - now end
  end
  local e = 0
  if w.cur > 0 then
    local q = idiv((rate - 1) * p, w.cur)
    if q < p then e = p - q end
  end
  return w.t + p + e - now
end

local function window_refusal(l, st, now)
  local w = window_roll(l, st, now)
  local reset = w.t + l.period - now
  if w.cur > 0 then reset = w.t + 2 * l.period - now end
  return reset, window_retry(l, w, now)
end

-- ---- a check ----

-- Is c more restrictive than b? (rl_worse) Results are {allowed,
-- remaining, reset, retry}.
local function worse(c, b)
  if c[1] ~= b[1] then return c[1] == 0 end
  if c[1] == 0 then return c[4] > b[4] end
  if c[2] ~= b[2] then return c[2] < b[2] end
  return c[3] > b[3]
end

-- The most restrictive verdict of one more request (rl_verdict): its
-- index and result. A limit with room admits it.
local function verdict(ls, sts, rooms, nowus, now)
  local best, bi
  for i = 1, #ls do
    local l, r = ls[i], nil
    if rooms[i] > 0 then
      r = {1, 0, 0, 0} -- only compared with refusals here, or with itself
    elseif l.alg == 'gcra' then
      local reset, retry = gcra_refusal(l, sts[i], nowus)
      r = {0, 0, reset, retry}
    else
      local reset, retry = window_refusal(l, sts[i], now)
      r = {0, 0, reset, retry}
    end
    if not best or worse(r, best) then best, bi = r, i end
  end
  return bi, best
end

local function write(ls, k, sts, dirty, nowus, now)
  for i = 1, #ls do
    if dirty[i] then
      if ls[i].alg == 'gcra' then
        gcra_store(KEYS[k + i], sts[i], nowus)
      else
        window_store(ls[i], KEYS[k + i], sts[i], now)
      end
    end
  end
end

-- pc_rl_take + pc_rl_giveback for one check: limits ls, keys KEYS[k + 1 ..].
-- Appends the 8 result values to out.
local function check(ls, k, need, extra, give, now, out)
  local n, nowus = #ls, now * 1000
  if n == 1 and ls[1].alg == 'gcra' then
    return gcra1(KEYS[k + 1], ls[1].t, ls[1].cap, ls[1].burst, need, extra, give, nowus, out, #out)
  end
  local sts, dirty = {}, {}
  for i = 1, n do
    if ls[i].alg == 'gcra' then
      sts[i], dirty[i] = gcra_load(ls[i], KEYS[k + i], nowus)
      if give > 0 then
        local t, changed = gcra_giveback(ls[i], sts[i], nowus, give)
        sts[i], dirty[i] = t, dirty[i] or changed
      end
    else
      sts[i], dirty[i] = window_load(ls[i], KEYS[k + i], now)
    end
  end
  local o = #out
  if need == 0 and extra == 0 then
    write(ls, k, sts, dirty, nowus, now)
    for j = 1, 8 do out[o + j] = 0 end
    return
  end
  local rooms, h = {}, nil
  for i = 1, n do
    if ls[i].alg == 'gcra' then rooms[i] = gcra_room(ls[i], sts[i], nowus)
    else rooms[i] = window_room(ls[i], sts[i], now) end
    if not h or rooms[i] < h then h = rooms[i] end
  end
  local take = need
  if h < take then take = h end
  local g = take + math.min(extra, idiv(h - take, SHARE))
  if g == 0 and need == 0 then
    write(ls, k, sts, dirty, nowus, now)
    for j = 1, 8 do out[o + j] = 0 end
    return
  end
  if h == 0 then
    local bi, b = verdict(ls, sts, rooms, nowus, now)
    write(ls, k, sts, dirty, nowus, now)
    out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = 0, 0, b[3], b[4], bi - 1
    out[o + 6], out[o + 7], out[o + 8] = b[3], b[4], bi - 1
    return
  end
  local best, bi
  for i = 1, n do
    local l, reset = ls[i], nil
    if l.alg == 'gcra' then
      sts[i] = math.max(sts[i], nowus) + g * l.t
      reset = cdiv(sts[i] - nowus, 1000)
    else
      local w = window_roll(l, sts[i], now)
      w.cur = w.cur + g
      sts[i] = w
      reset = w.t + 2 * l.period - now
    end
    rooms[i] = rooms[i] - g
    dirty[i] = true
    local r = {1, rooms[i], reset, 0}
    if not best or worse(r, best) then best, bi = r, i end
  end
  write(ls, k, sts, dirty, nowus, now)
  out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = g, best[2], best[3], 0, bi - 1
  if take < need then
    local vi, v = verdict(ls, sts, rooms, nowus, now)
    out[o + 6], out[o + 7], out[o + 8] = v[3], v[4], vi - 1
  else
    out[o + 6], out[o + 7], out[o + 8] = 0, 0, 0
  end
end

-- Validate every check before running any: an error must not leave the
-- checks before it written. The checks of one call usually share their
-- limits (one rate_limit instance): the last parsed limit list is reused
-- when its arguments are the same strings.
local nargv = #ARGV
local checks, a, nkeys = {}, 2, 0
local last_sig, last_ls
while a <= nargv do
  local n = int_arg(ARGV[a], 1, 8)
  if a + 3 + 4 * n > nargv then error('ratelimit.lua: too few arguments') end
  local c = {k = nkeys, need = int_arg(ARGV[a + 1], 0, MAX_COUNT),
             extra = int_arg(ARGV[a + 2], 0, MAX_COUNT),
             give = int_arg(ARGV[a + 3], 0, MAX_COUNT)}
  local sig = table.concat(ARGV, ',', a + 4, a + 3 + 4 * n) .. '/' .. n
  if sig ~= last_sig then
    local ls = {}
    for i = 1, n do ls[i] = parse_limit(a + 4 + 4 * (i - 1)) end
    last_sig, last_ls = sig, ls
  end
  c.ls = last_ls
  checks[#checks + 1] = c
  nkeys = nkeys + n
  a = a + 4 + 4 * n
end
if #checks == 0 or nkeys ~= #KEYS then
  error('ratelimit.lua: the keys do not match the checks')
end
if ARGV[1] ~= '' then int_arg(ARGV[1], 0, MAX_NOW - 1) end
local now = now_ms(ARGV[1])
local out = {}
for i = 1, #checks do
  local c = checks[i]
  check(c.ls, c.k, c.need, c.extra, c.give, now, out)
end
return out
