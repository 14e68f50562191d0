-- gateway/ratelimit.lua: the multi-limit check of gateway/ratelimit.c, run
-- atomically inside Redis so that a fleet of gateways shares one limit and
-- one clock. Same arithmetic, same results (ratelimit.h documents the
-- algorithms); tests/unit/test_ratelimit_lua.py checks both side by side.
--
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
-- Numbers are Lua doubles: every value stays an integer below 2^53 (the
-- bounds below equal PC_RL_MAX_* in ratelimit.h), division goes through
-- idiv(), and values are stored with %.0f because tostring() keeps only
-- 14 digits.

local MAX_PERIOD, MAX_NOW, MAX_SPAN = 2 ^ 36, 2 ^ 42, 2 ^ 50

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

local function int_arg(s, lo, hi)
  local n = tonumber(s)
  if not n or n ~= math.floor(n) or n < lo or n > hi then
    error('ratelimit.lua: bad argument ' .. tostring(s))
  end
  return n
end

local function now_ms()
  if ARGV[1] ~= '' then return int_arg(ARGV[1], 0, MAX_NOW - 1) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + idiv(tonumber(t[2]), 1000)
end

local function parse_limit(i)
  local base = 2 + 4 * (i - 1)
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

local function fmt(x) return string.format('%.0f', x) end

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

if #KEYS < 1 or #KEYS > 8 or #ARGV ~= 1 + 4 * #KEYS then
  error('ratelimit.lua: need 1..8 keys and 1 + 4 * #KEYS arguments')
end
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: TIME
local now = now_ms()
local results, best = {}, nil
for i = 1, #KEYS do
  local l = parse_limit(i)
  local r
  if l.alg == 'gcra' then r = eval_gcra(l, KEYS[i], now) else r = eval_sliding(l, KEYS[i], now) end
  r.index = i - 1
  results[i] = r
  if not best or worse(r, best) then best = r end
end
for i = 1, #KEYS do
  local w = results[i].fix
  if best.allowed == 1 then w = results[i].commit end
  if w then redis.call('SET', KEYS[i], w[1], 'PX', w[2]) end
end
return {best.allowed, best.remaining, best.reset, best.retry, best.index}
