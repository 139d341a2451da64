/**
 * The exact-mode Lua scripts of the version before the running total of holds (`holds2`), verbatim:
 * the pods and the operator not yet upgraded in a rolling upgrade run these beside the new ones
 * (test/redis/exact-budget-redis.test.ts runs both on one Redis). Key layout per period: spent,
 * holds, deadlines, expired.
 */
const CLOCK = `
local function clock(at)
  if at ~= '' then return tonumber(at) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function pick(t, lo, mid, hi)
  if t >= tonumber(lo) and t < tonumber(mid) then return 0 end
  if t >= tonumber(mid) and t < tonumber(hi) then return 1 end
  return nil
end
`;

const SWEEP = `
local function sweep(h, d, s, e, now, limit, ttl)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[d], '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(expired) do
    local amount = redis.call('HGET', KEYS[h], id)
    if amount then
      redis.call('INCRBYFLOAT', KEYS[s], amount)
      redis.call('HDEL', KEYS[h], id)
      redis.call('HSET', KEYS[e], id, amount)
    end
    redis.call('ZREM', KEYS[d], id)
  end
  if #expired > 0 then
    redis.call('EXPIRE', KEYS[s], ttl)
    redis.call('EXPIRE', KEYS[e], ttl)
  end
end
local function held(b)
  local sum = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[b + 2])) do sum = sum + tonumber(v) end
  return sum
end
`;

export const V1_RESERVE_SCRIPT = `${CLOCK}${SWEEP}
local timeout = tonumber(ARGV[1])
local limit = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local t = clock(ARGV[5])
local picks = {}
for i = 1, n do
  local a = 5 + (i - 1) * 7
  local p = pick(t, ARGV[a + 5], ARGV[a + 6], ARGV[a + 7])
  if p == nil then return {-1, t} end
  picks[i] = p
end
for i = 1, n do
  local k = (i - 1) * 10
  local p = picks[i]
  local b = k + p * 4
  local ttl = ARGV[8 + p + (i - 1) * 7]
  sweep(b + 2, b + 3, b + 1, b + 4, t, limit, ttl)
  if p == 1 then
    sweep(k + 2, k + 3, b + 1, b + 4, t, limit, ttl)
  else
    sweep(k + 9, k + 10, b + 1, b + 4, t, limit, ttl)
  end
end
for i = 1, n do
  local b = (i - 1) * 10 + picks[i] * 4
  local spent = tonumber(redis.call('GET', KEYS[b + 1]) or '0')
  local h = held(b)
  local cap = tonumber(ARGV[6 + (i - 1) * 7])
  local amount = tonumber(ARGV[7 + (i - 1) * 7])
  local left = cap - spent - h
  if amount > left or (left <= 0 and amount == 0) then
    return {i, tostring(spent), tostring(h), picks[i]}
  end
end
local deadline = t + timeout
local answer = {0}
for i = 1, n do
  local p = picks[i]
  local b = (i - 1) * 10 + p * 4
  redis.call('HSET', KEYS[b + 2], ARGV[2], ARGV[7 + (i - 1) * 7])
  redis.call('ZADD', KEYS[b + 3], deadline, ARGV[2])
  for k = 1, 4 do redis.call('EXPIRE', KEYS[b + k], ARGV[8 + p + (i - 1) * 7]) end
  answer[i + 1] = p
end
return answer
`;

export const V1_SETTLE_SCRIPT = `${CLOCK}
local n = tonumber(ARGV[2])
local t = clock(ARGV[3])
for i = 1, n do
  local b = (i - 1) * 6
  local a = 3 + (i - 1) * 3
  local actual = tonumber(ARGV[a + 1])
  if redis.call('HDEL', KEYS[b + 2], ARGV[1]) == 1 then
    redis.call('ZREM', KEYS[b + 3], ARGV[1])
    if actual ~= 0 then
      if t >= tonumber(ARGV[a + 2]) then
        redis.call('INCRBYFLOAT', KEYS[b + 5], actual)
        redis.call('EXPIRE', KEYS[b + 5], ARGV[a + 3])
      else
        redis.call('INCRBYFLOAT', KEYS[b + 1], actual)
      end
    end
  else
    local charged = redis.call('HGET', KEYS[b + 4], ARGV[1])
    if charged then
      redis.call('INCRBYFLOAT', KEYS[b + 1], actual - tonumber(charged))
      redis.call('HDEL', KEYS[b + 4], ARGV[1])
    else
      charged = redis.call('HGET', KEYS[b + 6], ARGV[1])
      if charged then
        redis.call('INCRBYFLOAT', KEYS[b + 5], actual - tonumber(charged))
        redis.call('HDEL', KEYS[b + 6], ARGV[1])
      end
    end
  end
end
return 1
`;

export const V1_MIRROR_READ_SCRIPT = `${SWEEP}
sweep(2, 3, 1, 4, tonumber(ARGV[1]), tonumber(ARGV[4]), ARGV[3])
sweep(7, 8, 1, 4, tonumber(ARGV[1]), tonumber(ARGV[4]), ARGV[3])
local floor = tonumber(ARGV[2])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if redis.call('EXISTS', KEYS[5]) == 0 then
  if cur < floor then
    redis.call('INCRBYFLOAT', KEYS[1], floor)
    redis.call('EXPIRE', KEYS[1], ARGV[3])
  end
  redis.call('SET', KEYS[5], ARGV[2], 'EX', ARGV[3])
elseif cur < floor then
  redis.call('INCRBYFLOAT', KEYS[1], floor - cur)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {redis.call('GET', KEYS[1]) or '0', tostring(held(0))}
`;
