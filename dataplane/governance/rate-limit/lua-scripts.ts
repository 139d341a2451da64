/**
 * Lua for the Redis backend: the same arithmetic as token-bucket.ts, run atomically inside Redis
 * with Redis's own clock (TIME), so that pods with skewed clocks agree. Each bucket is a hash
 * {t: tokens, u: updated ms} that expires once it would be full again (a missing bucket is full).
 */

const PRELUDE = `
local window = 60000
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local function tokens_at(key, limit)
  local s = redis.call('HMGET', key, 't', 'u')
  if not s[1] then return limit end
  local elapsed = now - tonumber(s[2])
  if elapsed < 0 then elapsed = 0 end
  return math.min(limit, tonumber(s[1]) + elapsed * limit / window)
end
local function ms_until(tokens, target, limit)
  if tokens >= target then return 0 end
  return math.ceil((target - tokens) * window / limit)
end
local function store(key, tokens, limit)
  local full_in = ms_until(tokens, limit, limit)
  if full_in <= 0 then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 't', string.format('%.17g', tokens), 'u', now)
    redis.call('PEXPIRE', key, full_in + 1000)
  end
end
`;

/**
 * KEYS: the buckets of one request. ARGV: limit_1, cost_1, limit_2, cost_2, ...
 * Returns {admitted (1|0), tokens_1, wait_ms_1, reset_ms_1, ...}; tokens as strings (Lua numbers
 * would be truncated to integers in the reply). Charges every bucket or none.
 */
export const TAKE_SCRIPT = `${PRELUDE}
local n = #KEYS
local tokens = {}
local admitted = 1
for i = 1, n do
  local limit = tonumber(ARGV[2 * i - 1])
  local cost = tonumber(ARGV[2 * i])
  tokens[i] = tokens_at(KEYS[i], limit)
  if tokens[i] < math.min(cost, limit) then admitted = 0 end
end
local out = { admitted }
for i = 1, n do
  local limit = tonumber(ARGV[2 * i - 1])
  local cost = tonumber(ARGV[2 * i])
  local t = tokens[i]
  local wait = 0
  if admitted == 1 then
    t = t - cost
    store(KEYS[i], t, limit)
  else
    wait = ms_until(t, math.min(cost, limit), limit)
  end
  out[#out + 1] = string.format('%.17g', t)
  out[#out + 1] = wait
  out[#out + 1] = ms_until(t, limit, limit)
end
return out
`;

/** KEYS: buckets. ARGV: limit_1, delta_1, ... Adds delta to each bucket, clamped at its limit. */
export const ADJUST_SCRIPT = `${PRELUDE}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i - 1])
  local delta = tonumber(ARGV[2 * i])
  if delta ~= 0 then
    store(KEYS[i], math.min(limit, tokens_at(KEYS[i], limit) + delta), limit)
  end
end
return #KEYS
`;
