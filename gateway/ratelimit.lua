-- gateway/ratelimit.lua: the multi-limit check of gateway/ratelimit.c, run
-- atomically inside Redis so that a fleet of gateways shares one limit and
-- one clock. Same arithmetic, same results (ratelimit.h documents the
-- algorithms); tests/unit/test_ratelimit_lua.py checks both side by side.
--
-- Single mode, one check:
-- KEYS[i]  state of limit i. All keys of one check must share a Redis
--          Cluster slot: the caller hash-tags them, e.g. "pc:{user42}:l0".
-- ARGV[1]  now in ms; empty in production, where redis TIME is the clock
--          of every gateway. Tests pass a fake clock here.
-- ARGV[2+4(i-1)..] per limit i: alg ("gcra" | "sliding"), rate,
--          period_ms, burst (0 = rate; ignored by "sliding").
-- Returns {allowed (1|0), remaining, reset_ms, retry_after_ms, limit}
-- for the most restrictive limit (limit is its 0-based index), like
-- pc_rl_result_t. An allowed check writes every key, with PX set to the
-- moment its state equals the empty state; a denied one writes nothing
-- unless the clock stepped back (see fix below).
--
-- Batch mode, several independent checks in one call (gateway/store.c
-- sends the checks of one event-loop iteration together; its keys then span
-- several hash tags, so not for Redis Cluster):
-- ARGV[1] "batch", ARGV[2] now as above, then per check: its number of
--          limits n, then its 4 * n limit arguments as above.
-- KEYS     the keys of every check, in the same order.
-- Returns the five values of each check, one after the other. Every
-- argument is validated before anything is written; each check is the
-- single-mode check, run in turn within the one atomic call.
--
-- Numbers are Lua doubles: every value stays an integer below 2^53 (the
-- bounds below equal PC_RL_MAX_* in ratelimit.h), division goes through
-- idiv(), and values are stored with %d (Lua 5.1 formats it from a C
-- long: exact below 2^53, and much cheaper than %.0f) because tostring()
-- keeps only 14 digits.

local MAX_PERIOD, MAX_NOW, MAX_SPAN = 2 ^ 36, 2 ^ 42, 2 ^ 50
local rcall, sfmt, floor, tonum = redis.call, string.format, math.floor, tonumber

local function idiv(a, b) -- floor(a / b), exact for integers below 2^53
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

local function cdiv(a, b) return -idiv(-a, b) end

-- One GCRA limit alone, the common check: eval_gcra plus the write-back
-- below, without the tables. t = cdiv(period * 1000, rate) and burst
-- (resolved: never 0) come validated. Returns the first four result values.
local function gcra_one(key, t, burst, now)
  local cap, nowus = t * burst, now * 1000
  local tat = tonum(rcall('GET', key)) or 0
  if tat > nowus + cap then
    -- the clock stepped back: normalised to a full bucket, which is refused
    -- (cap + t > cap); the normalised state is stored (fix)
    tat = nowus + cap
    redis.call('SET', key, string.format('%d', tat), 'PX',
               string.format('%d', cdiv(tat - nowus, 1000)))
    return 0, 0, cdiv(tat - nowus, 1000), cdiv(tat + t - cap - nowus, 1000)
  end
  if tat < nowus then tat = nowus end
  if tat + t - nowus > cap then
    return 0, 0, cdiv(tat - nowus, 1000), cdiv(tat + t - cap - nowus, 1000)
  end
  local new = tat + t
  local reset = cdiv(new - nowus, 1000)
  -- reset is below 2^37 ms: tostring (14 digits) is exact for it
  rcall('SET', key, sfmt('%d', new), 'PX', tostring(reset))
  return 1, idiv(cap - (new - nowus), t), reset, 0
end

-- Fast path for the most common call, a single-mode check of one GCRA limit
-- with valid arguments, before the general path's functions are even
-- created (a script's top level runs on every call). Anything else, invalid
-- arguments included, takes the general path below, which raises the errors.
if #KEYS == 1 and #ARGV == 5 and ARGV[2] == 'gcra' then
  local rate, period, burst = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local fake = ARGV[1] ~= '' and tonumber(ARGV[1]) or 0
  if rate and period and burst and fake and rate % 1 == 0 and period % 1 == 0 and
      burst % 1 == 0 and fake % 1 == 0 and rate >= 1 and rate < 2 ^ 32 and period >= 1 and
      period <= MAX_PERIOD and burst >= 0 and burst < 2 ^ 32 and fake >= 0 and
      fake < MAX_NOW then
    if burst == 0 then burst = rate end
    local t = cdiv(period * 1000, rate)
    if burst <= idiv(MAX_SPAN, t) then
      if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: TIME
      local now = fake
      if ARGV[1] == '' then
        local tm = redis.call('TIME')
        now = tonumber(tm[1]) * 1000 + idiv(tonumber(tm[2]), 1000)
      end
      local a, b, c, d = gcra_one(KEYS[1], t, burst, now)
      return {a, b, c, d, 0}
    end
  end
end

local function int_arg(s, lo, hi)
  local n = tonumber(s)
  if not n or n ~= math.floor(n) or n < lo or n > hi then
    error('ratelimit.lua: bad argument ' .. tostring(s))
  end
  return n
end

local function now_ms(arg)
  if arg ~= '' then return int_arg(arg, 0, MAX_NOW - 1) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + idiv(tonumber(t[2]), 1000)
end

-- The limit whose 4 arguments start at ARGV[base].
local function parse_limit(base)
  local l = {alg = ARGV[base]}
  l.rate = int_arg(ARGV[base + 1], 1, 2 ^ 32 - 1)
  l.period = int_arg(ARGV[base + 2], 1, MAX_PERIOD)
  l.burst = int_arg(ARGV[base + 3], 0, 2 ^ 32 - 1)
  if l.burst == 0 then l.burst = l.rate end
  if l.alg == 'gcra' then
    l.t = cdiv(l.period * 1000, l.rate)
    if l.burst > idiv(MAX_SPAN, l.t) then error('ratelimit.lua: burst too large') end
  elseif l.alg == 'sliding' then
    if l.rate > idiv(MAX_SPAN, l.period) then error('ratelimit.lua: rate too large') end
  else
    error('ratelimit.lua: unknown algorithm ' .. tostring(l.alg))
  end
  return l
end

local function fmt(x) return string.format('%d', x) end

-- Each eval_* returns the verdict plus commit = {value, px} to store if
-- the whole check is admitted and, when the clock stepped back past the
-- stored state, fix = {value, px}: the normalised state to store if the
-- check is denied (rl_normalize; without it the key would stay denied
-- until the clock caught up).

-- GCRA: the key holds TAT in us (rl_eval_gcra).
local function eval_gcra(l, key, now)
  local t, cap, nowus = l.t, l.t * l.burst, now * 1000
  local stored = tonumber(redis.call('GET', key)) or 0
  local r = {}
  if stored > nowus + cap then
    stored = nowus + cap
    r.fix = {fmt(stored), fmt(cdiv(stored - nowus, 1000))}
  end
  local tat = math.max(stored, nowus)
  if tat + t - nowus <= cap then
    local new = tat + t
    r.allowed, r.remaining, r.retry = 1, idiv(cap - (new - nowus), t), 0
    r.reset = cdiv(new - nowus, 1000)
    r.commit = {fmt(new), fmt(r.reset)}
  else
    r.allowed, r.remaining = 0, 0
    r.reset = cdiv(tat - nowus, 1000)
    r.retry = cdiv(tat + t - cap - nowus, 1000)
  end
  return r
end

local function window_value(s, prev, cur, now, p)
  return {fmt(s) .. ':' .. fmt(prev) .. ':' .. fmt(cur), fmt(s + 2 * p - now)}
end

local function window_retry(l, s, prev, cur, now)
  local p, rate = l.period, l.rate
  if cur + 1 <= rate and prev > 0 then
    local e = p - idiv((rate - cur - 1) * p, prev)
    if e < p then return s + e - now end
  end
  local e = 0
  if cur > 0 then
    local q = idiv((rate - 1) * p, cur)
    if q < p then e = p - q end
  end
  return s + p + e - now
end

-- Sliding window: the key holds "start:prev:cur" (rl_eval_window).
local function eval_sliding(l, key, now)
  local p, rate = l.period, l.rate
  local start = now - now % p
  local s, prev, cur = string.match(redis.call('GET', key) or '', '^(%d+):(%d+):(%d+)$')
  s, prev, cur = tonumber(s) or 0, tonumber(prev) or 0, tonumber(cur) or 0
  local r = {}
  if start < s then
    s = start
    r.fix = window_value(s, prev, cur, now, p)
  end
  if start == s + p then
    s, prev, cur = start, cur, 0
  elseif start > s + p then
    s, prev, cur = start, 0, 0
  end
  prev, cur = math.min(prev, rate), math.min(cur, rate)
  local budget = rate * p
  local used = prev * (p - (now - s)) + (cur + 1) * p
  if used <= budget then
    r.allowed, r.remaining, r.retry = 1, idiv(budget - used, p), 0
    r.reset = s + 2 * p - now
    r.commit = window_value(s, prev, cur + 1, now, p)
  else
    r.allowed, r.remaining = 0, 0
    r.reset = s + p - now
    if cur > 0 then r.reset = s + 2 * p - now end
    r.retry = window_retry(l, s, prev, cur, now)
  end
  return r
end

-- Is c more restrictive than b? (rl_worse)
local function worse(c, b)
  if c.allowed ~= b.allowed then return c.allowed == 0 end
  if c.allowed == 0 then return c.retry > b.retry end
  if c.remaining ~= b.remaining then return c.remaining < b.remaining end
  return c.reset > b.reset
end

-- One check: limits ls (parsed), their keys KEYS[k + 1 ..]. Returns the
-- five result values.
local function check(ls, k, now)
  if #ls == 1 and ls[1].alg == 'gcra' then
    local a, b, c, d = gcra_one(KEYS[k + 1], ls[1].t, ls[1].burst, now)
    return a, b, c, d, 0
  end
  local results, best = {}, nil
  for i = 1, #ls do
    local l, r = ls[i], nil
    if l.alg == 'gcra' then r = eval_gcra(l, KEYS[k + i], now) else r = eval_sliding(l, KEYS[k + i], now) end
    r.index = i - 1
    results[i] = r
    if not best or worse(r, best) then best = r end
  end
  for i = 1, #ls do
    local w = results[i].fix
    if best.allowed == 1 then w = results[i].commit end
    if w then redis.call('SET', KEYS[k + i], w[1], 'PX', w[2]) end
  end
  return best.allowed, best.remaining, best.reset, best.retry, best.index
end

if ARGV[1] == 'batch' then
  -- Validate every check before running any: an error must not leave the
  -- checks before it written. A check of one GCRA limit (the common one)
  -- keeps just its t and burst; others keep their parsed limits.
  local ts, bursts, lss, ks = {}, {}, {}, {}
  local a, nkeys, j, nargv = 3, 0, 0, #ARGV
  -- the checks of one batch usually share their limit: the arguments of
  -- the last one-GCRA check parsed, and its t and burst
  local p2, p3, p4, pt, pb
  while a <= nargv do
    local n = ARGV[a] == '1' and 1 or int_arg(ARGV[a], 1, 8)
    if a + 4 * n > nargv then error('ratelimit.lua: batch: too few arguments') end
    j = j + 1
    ks[j] = nkeys
    if n == 1 and ARGV[a + 1] == 'gcra' then
      local s2, s3, s4 = ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
      if s2 ~= p2 or s3 ~= p3 or s4 ~= p4 then
        local l = parse_limit(a + 1)
        p2, p3, p4, pt, pb = s2, s3, s4, l.t, l.burst
      end
      ts[j], bursts[j] = pt, pb
    else
      local ls = {}
      for i = 1, n do ls[i] = parse_limit(a + 1 + 4 * (i - 1)) end
      lss[j] = ls
    end
    nkeys = nkeys + n
    a = a + 1 + 4 * n
  end
  if j == 0 or nkeys ~= #KEYS then
    error('ratelimit.lua: batch: the keys do not match the checks')
  end
  if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: TIME
  local now = now_ms(ARGV[2])
  local out = {}
  for c = 1, j do
    local b = 5 * (c - 1)
    if ts[c] then
      out[b + 1], out[b + 2], out[b + 3], out[b + 4] = gcra_one(KEYS[ks[c] + 1], ts[c], bursts[c], now)
      out[b + 5] = 0
    else
      out[b + 1], out[b + 2], out[b + 3], out[b + 4], out[b + 5] = check(lss[c], ks[c], now)
    end
  end
  return out
end

if #KEYS < 1 or #KEYS > 8 or #ARGV ~= 1 + 4 * #KEYS then
  error('ratelimit.lua: need 1..8 keys and 1 + 4 * #KEYS arguments')
end
local ls = {}
for i = 1, #KEYS do ls[i] = parse_limit(2 + 4 * (i - 1)) end
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: TIME
local now = now_ms(ARGV[1])
local a, b, c, d, e = check(ls, 0, now)
return {a, b, c, d, e}
