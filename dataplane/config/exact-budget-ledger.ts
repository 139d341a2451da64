/**
 * The exact budget mode's ledger in Redis: the contract between data planes (which reserve and
 * settle) and the operator (which mirrors the totals into Budget.status). Key layout and Lua
 * scripts only; each side brings its own client.
 *
 * Per budget, calendar period and unit, four keys:
 *   spent     charged so far (settled usage, plus the worst case of holds that expired unsettled)
 *   holds     hash reservation id → amount held for a request in flight
 *   deadlines sorted set reservation id → when the hold expires unless its pod refreshes it
 *   expired   hash reservation id → amount charged when it expired (a late settle corrects it)
 * A hold is written before the upstream call, atomically with the check against the limit, so a
 * pod killed mid-request leaves a hold that is charged at its worst case once it expires: the
 * ledger can over-count a dead pod's requests, never under-count them.
 */
import { periodBounds } from './budget-period.js';
import type { BudgetConfig } from './snapshot.js';

export const EXACT_KEYS_PER_BUDGET = 4;

/** Only calendar periods are kept exactly; rolling windows stay with the reported ledger. */
export const isExact = (b: BudgetConfig): boolean => b.period !== 'Rolling';

/**
 * The four keys of a budget's current period, in script order, and the operator's `seeded` marker
 * (MIRROR_READ_SCRIPT), which the data planes never touch.
 */
export function exactBudgetKeys(
  prefix: string,
  budget: BudgetConfig,
  now: number,
): { keys: string[]; seededKey: string; ttlSeconds: number; periodStart: number; resetsAt: number | undefined } {
  const bounds = periodBounds(budget.period, budget.timeZone, budget.windowMs, now);
  // One hash tag per budget period and unit: the keys live together in a Redis Cluster slot, and a
  // change of spec.limit.unit mid-period starts a count of its own at 0 (USD are not tokens), as the
  // reported mode does. USD keeps the name it had before the unit was part of it: an upgrade keeps
  // counting a USD period where it was.
  const base = `${prefix}budget:{${budget.id}:${bounds.start}${budget.unit === 'USD' ? '' : `:${budget.unit}`}}`;
  // Kept a week past the period's end, so that the operator can write the final total.
  const ttlSeconds = Math.max(60, Math.ceil(((bounds.end ?? now) - now) / 1000) + 7 * 24 * 3600);
  return { keys: [`${base}:spent`, `${base}:holds`, `${base}:deadlines`, `${base}:expired`], seededKey: `${base}:seeded`, ttlSeconds, periodStart: bounds.start, resetsAt: bounds.end };
}

/** Charges expired holds of budget i (1-based) at what they held. */
const SWEEP = `
local function sweep(i, now)
  local b = (i - 1) * 4
  local expired = redis.call('ZRANGEBYSCORE', KEYS[b + 3], '-inf', now)
  for _, id in ipairs(expired) do
    local amount = redis.call('HGET', KEYS[b + 2], id)
    if amount then
      redis.call('INCRBYFLOAT', KEYS[b + 1], amount)
      redis.call('HDEL', KEYS[b + 2], id)
      redis.call('HSET', KEYS[b + 4], id, amount)
    end
    redis.call('ZREM', KEYS[b + 3], id)
  end
end
local function held(i)
  local sum = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[(i - 1) * 4 + 2])) do sum = sum + tonumber(v) end
  return sum
end
`;

/**
 * ARGV: now, reservation id, deadline, n, then per budget: limit, amount, ttl seconds.
 * Returns {0} when every budget admits (the holds are written), else {i, spent, held} of the first
 * budget that cannot cover its amount (nothing is written).
 */
export const RESERVE_SCRIPT = `${SWEEP}
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[4])
for i = 1, n do
  sweep(i, now)
  local spent = tonumber(redis.call('GET', KEYS[(i - 1) * 4 + 1]) or '0')
  local h = held(i)
  local limit = tonumber(ARGV[5 + (i - 1) * 3])
  local amount = tonumber(ARGV[6 + (i - 1) * 3])
  local left = limit - spent - h
  if amount > left or (left <= 0 and amount == 0) then
    return {i, tostring(spent), tostring(h)}
  end
end
for i = 1, n do
  local b = (i - 1) * 4
  redis.call('HSET', KEYS[b + 2], ARGV[2], ARGV[6 + (i - 1) * 3])
  redis.call('ZADD', KEYS[b + 3], ARGV[3], ARGV[2])
  for k = 1, 4 do redis.call('EXPIRE', KEYS[b + k], ARGV[7 + (i - 1) * 3]) end
end
return {0}
`;

/**
 * ARGV: reservation id, n, then per budget the real amount. A live hold is replaced by the real
 * amount; a hold that already expired (charged at its worst case) is corrected to the real amount.
 */
export const SETTLE_SCRIPT = `
local n = tonumber(ARGV[2])
for i = 1, n do
  local b = (i - 1) * 4
  local actual = tonumber(ARGV[2 + i])
  if redis.call('HDEL', KEYS[b + 2], ARGV[1]) == 1 then
    redis.call('ZREM', KEYS[b + 3], ARGV[1])
    if actual ~= 0 then redis.call('INCRBYFLOAT', KEYS[b + 1], actual) end
  else
    local charged = redis.call('HGET', KEYS[b + 4], ARGV[1])
    if charged then
      redis.call('INCRBYFLOAT', KEYS[b + 1], actual - tonumber(charged))
      redis.call('HDEL', KEYS[b + 4], ARGV[1])
    end
  end
end
return 1
`;

/**
 * Spend no hold stood for, added at once (Admission.charge: a Realtime response as it ends). KEYS:
 * each budget's spent key of the current period; ARGV: n, then per budget the amount and the key's
 * TTL in seconds.
 */
export const CHARGE_SCRIPT = `
local n = tonumber(ARGV[1])
for i = 1, n do
  local amount = tonumber(ARGV[(i - 1) * 2 + 2])
  if amount ~= 0 then
    redis.call('INCRBYFLOAT', KEYS[i], amount)
    redis.call('EXPIRE', KEYS[i], ARGV[(i - 1) * 2 + 3])
  end
end
return 1
`;

/** ARGV: new deadline, then reservation ids. KEYS: deadline sets. Moves the deadline of holds that still exist. */
export const REFRESH_SCRIPT = `
for _, key in ipairs(KEYS) do
  for j = 2, #ARGV do redis.call('ZADD', key, 'XX', ARGV[1], ARGV[j]) end
end
return 1
`;

/**
 * The operator's read of one budget (KEYS: its four keys, then its `seeded` marker; ARGV: now, the
 * spent Budget.status has for this same period (0 for another period), the keys' TTL in seconds).
 * Charges expired holds, makes sure Redis does not hold less than the status, and returns
 * {spent, held}.
 *
 * Redis can lose spend the status still has: a switch from the reported mode mid-period (the keys
 * start empty), a restart without persistence, a failover to a replica behind, an evicted key. Left
 * alone, the mirror wrote the lower number over the status and the budget refilled. The marker,
 * written when the status is first carried in, tells which case it is:
 * - no marker and less spent than the status: the keys are new or were lost with the marker, and
 *   what they hold was charged since: the status is added to it (a switch or a loss is counted
 *   once, with everything charged after it);
 * - no marker and at least the status: the keys came through (an operator older than the marker
 *   kept them): nothing is added. Pods that charged more than the status before the first read
 *   look the same (an under-count of at most what they charged before it): adding the status
 *   there would count a whole period twice at every upgrade;
 * - a marker and less than the status: the spent key alone went (eviction), or a late settle lowered
 *   a worst case the status already shows: raised to the status. The second over-counts by the
 *   correction; the first would otherwise under-count.
 */
export const MIRROR_READ_SCRIPT = `${SWEEP}
sweep(1, tonumber(ARGV[1]))
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
return {redis.call('GET', KEYS[1]) or '0', tostring(held(1))}
`;
