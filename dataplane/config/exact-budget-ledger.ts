/**
 * The exact budget mode's ledger in Redis: the contract between data planes (which reserve and
 * settle) and the operator (which mirrors the totals into Budget.status). Key layout and Lua
 * scripts only; each side brings its own client.
 *
 * Per budget, calendar period and unit, six keys:
 *   spent      charged so far (settled usage, plus the worst case of holds that expired unsettled)
 *   holds      hash: the field HELD_TOTAL, the sum of every hold in holds2; and reservation id →
 *              amount of holds taken by versions before holds2 (their pods still running in a
 *              rolling upgrade)
 *   deadlines  sorted set reservation id → when such an older hold expires
 *   expired    hash reservation id → amount charged when it expired (a late settle corrects it)
 *   holds2     hash reservation id → amount held for a request in flight
 *   deadlines2 sorted set reservation id → when the hold expires unless its pod refreshes it
 * A hold is written before the upstream call, atomically with the check against the limit, so a
 * pod killed mid-request leaves a hold that is charged at its worst case once it expires: the
 * ledger can over-count a dead pod's requests, never under-count them.
 *
 * What is held is read in O(1) per admission: HELD_TOTAL is kept by every script that adds or
 * removes a hold in holds2. Before, the reserve summed every hold of the period (HVALS), so one
 * admission's work in Redis grew with the requests in flight under the Budget. The total is a field
 * of the older `holds` hash, and the holds it sums live in keys older versions never read: an older
 * pod's reserve (which sums the `holds` hash) counts every newer pod's hold through the one field,
 * and its sweeps and settles, which know nothing of the total, never touch a hold it sums. Their own
 * holds stay in `holds` by id, where the newer scripts count and charge them as before: bounded by
 * the older pods' requests in flight, and gone once they are (docs/governance.md, exact mode).
 */
import { periodBounds } from './budget-period.js';
import type { BudgetConfig } from './snapshot.js';

export const EXACT_KEYS_PER_BUDGET = 6;

/**
 * The field of a period's `holds` hash that sums its holds2 hash. No reservation id takes this name
 * (they are `<pod>-<hex>:<n>`, and a pod's name is a host name).
 */
export const HELD_TOTAL = '*holds2';

/** Only calendar periods are kept exactly; rolling windows stay with the reported ledger. */
export const isExact = (b: BudgetConfig): boolean => b.period !== 'Rolling';

/**
 * The six keys of a budget's current period, in script order, and the operator's `seeded` marker
 * (MIRROR_READ_SCRIPT), which the data planes never touch.
 */
export interface ExactPeriodKeys {
  keys: string[];
  seededKey: string;
  ttlSeconds: number;
  periodStart: number;
  resetsAt: number | undefined;
}

export function exactBudgetKeys(prefix: string, budget: BudgetConfig, now: number): ExactPeriodKeys {
  return keysOf(prefix, budget, periodBounds(budget.period, budget.timeZone, budget.windowMs, now), now);
}

/**
 * Two adjacent periods, [lo, mid) and [mid, hi), one of which is `now`'s: its neighbour on the side
 * `now` is nearer to. The scripts pick between them by Redis's clock (TIME), so that a pod whose
 * clock is off by less than half a period charges the period Redis is in, in the same round trip;
 * further off, the script names Redis's time and the pod asks again around it.
 */
export interface ExactCandidates {
  periods: [ExactPeriodKeys, ExactPeriodKeys];
  /**
   * The holds, deadlines, holds2 and deadlines2 keys of the period before [lo, mid): with [lo, mid)
   * they make the period before either candidate available to the script, whose expired holds it
   * charges (RESERVE_SCRIPT).
   */
  before: [string, string, string, string];
  lo: number;
  mid: number;
  hi: number;
}

export function exactBudgetCandidates(prefix: string, budget: BudgetConfig, now: number): ExactCandidates {
  const here = periodBounds(budget.period, budget.timeZone, budget.windowMs, now);
  const end = here.end ?? now;
  const later = now - here.start > end - now;
  const other = periodBounds(budget.period, budget.timeZone, budget.windowMs, later ? end : here.start - 1);
  const [a, b] = later ? [here, other] : [other, here];
  const before = baseOf(prefix, budget, periodBounds(budget.period, budget.timeZone, budget.windowMs, a.start - 1).start);
  return { periods: [keysOf(prefix, budget, a, now), keysOf(prefix, budget, b, now)], before: [`${before}:holds`, `${before}:deadlines`, `${before}:holds2`, `${before}:deadlines2`], lo: a.start, mid: b.start, hi: b.end ?? end };
}

function baseOf(prefix: string, budget: BudgetConfig, start: number): string {
  // One hash tag per budget period and unit: the keys live together in a Redis Cluster slot, and a
  // change of spec.limit.unit mid-period starts a count of its own at 0 (USD are not tokens), as the
  // reported mode does. USD keeps the name it had before the unit was part of it: an upgrade keeps
  // counting a USD period where it was.
  return `${prefix}budget:{${budget.id}:${start}${budget.unit === 'USD' ? '' : `:${budget.unit}`}}`;
}

function keysOf(prefix: string, budget: BudgetConfig, bounds: { start: number; end: number | undefined }, now: number): ExactPeriodKeys {
  const base = baseOf(prefix, budget, bounds.start);
  // Kept a week past the period's end, so that the operator can write the final total.
  const ttlSeconds = Math.max(60, Math.ceil(((bounds.end ?? now) - now) / 1000) + 7 * 24 * 3600);
  return { keys: [`${base}:spent`, `${base}:holds`, `${base}:deadlines`, `${base}:expired`, `${base}:holds2`, `${base}:deadlines2`], seededKey: `${base}:seeded`, ttlSeconds, periodStart: bounds.start, resetsAt: bounds.end };
}

/**
 * Redis's clock in ms (TIME), or ARGV's `at` when a test fixes it; and the one of two adjacent
 * periods [lo, mid), [mid, hi) it falls in: 0, 1, or nil (further off).
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

/**
 * How many expired holds one call charges, per period it sweeps: a reserve (two periods: its own and
 * the one before) and the operator's read. Expired holds left for the next call are still counted
 * against the limit (as held, in their own period), so a bounded sweep delays no refusal; it only
 * keeps one script from blocking Redis for a pod that died with thousands of requests in flight.
 */
export const RESERVE_SWEEP_LIMIT = 50;
export const MIRROR_SWEEP_LIMIT = 1000;

/**
 * unhold: a hold of `amount` left holds2 KEYS[h2]: taken off the total in KEYS[h], which is removed
 * once holds2 is empty (so that the float sum's rounding never outlives the holds in flight). A total
 * that is not there (its key lost) is not written: HINCRBYFLOAT would create a key without a TTL.
 */
const UNHOLD = `
local TOTAL = '${HELD_TOTAL}'
local function unhold(h, h2, amount)
  if redis.call('HLEN', KEYS[h2]) == 0 then
    redis.call('HDEL', KEYS[h], TOTAL)
  elseif redis.call('HEXISTS', KEYS[h], TOTAL) == 1 then
    redis.call('HINCRBYFLOAT', KEYS[h], TOTAL, '-' .. amount)
  end
end
`;

/**
 * sweep: charges at most `limit` holds (KEYS[h], deadlines KEYS[d]) that expired by `now` at what
 * they held to the spent key KEYS[s], and records each in the expired hash KEYS[e], where a late
 * settle finds and corrects it; the two keys written get `ttl`. Given `total` (the holds hash whose
 * HELD_TOTAL sums KEYS[h]), each is also taken off that total. sweep2: sweep of holds2 KEYS[h2]
 * (deadlines2 KEYS[d2]) with the total in KEYS[h]; older holds are swept without one.
 * held: what is held in a period whose holds hash is KEYS[h]: the total of holds2 plus any older
 * holds (none once every pod is upgraded: then one field is read).
 */
const SWEEP = `${UNHOLD}
local function sweep(h, d, s, e, now, limit, ttl, total)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[d], '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(expired) do
    local amount = redis.call('HGET', KEYS[h], id)
    if amount then
      redis.call('INCRBYFLOAT', KEYS[s], amount)
      redis.call('HDEL', KEYS[h], id)
      redis.call('HSET', KEYS[e], id, amount)
      if total then unhold(total, h, amount) end
    end
    redis.call('ZREM', KEYS[d], id)
  end
  if #expired > 0 then
    redis.call('EXPIRE', KEYS[s], ttl)
    redis.call('EXPIRE', KEYS[e], ttl)
  end
end
local function sweep2(h2, d2, h, s, e, now, limit, ttl)
  sweep(h2, d2, s, e, now, limit, ttl, h)
end
local function held(h)
  local sum = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[h])) do sum = sum + tonumber(v) end
  -- Float rounding of the total below 0 holds nothing.
  local total = tonumber(redis.call('HGET', KEYS[h], TOTAL) or '0')
  if total < 0 then sum = sum - total end
  return sum
end
`;

/**
 * KEYS: per budget the six keys of two adjacent periods (exactBudgetCandidates), then the holds,
 * deadlines, holds2 and deadlines2 keys of the period before them: sixteen in all.
 * ARGV: the hold timeout in ms, reservation id, the sweep limit, n, at ('' for Redis's clock), then
 * per budget: limit, amount, ttl seconds of each period, lo, mid, hi.
 * Each budget's period is the one Redis's clock is in. Before checking, the script charges expired
 * holds of that period and of the one before it (a pod that died before the rollover: charged to
 * this period at their worst case, as the operator's read does), at most the sweep limit of each.
 * Deadlines are Redis's clock plus the timeout, so a pod's own clock moves no hold's expiry. What is
 * held is read from the total (O(1)), not summed over the holds in flight.
 * Returns {0, pick…} when every budget admits (the holds are written; pick 0 or 1 per budget: the
 * period charged), {-1, Redis's time} when that time is in neither period (the pod asks again around
 * it), else {i, spent, held, pick} of the first budget that cannot cover its amount (no hold is
 * written; expired holds are charged all the same).
 */
export const RESERVE_SCRIPT = `${CLOCK}${SWEEP}
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
  local k = (i - 1) * 16
  local p = picks[i]
  local b = k + p * 6
  local ttl = ARGV[8 + p + (i - 1) * 7]
  sweep(b + 2, b + 3, b + 1, b + 4, t, limit, ttl)
  sweep2(b + 5, b + 6, b + 2, b + 1, b + 4, t, limit, ttl)
  if p == 1 then
    sweep(k + 2, k + 3, b + 1, b + 4, t, limit, ttl)
    sweep2(k + 5, k + 6, k + 2, b + 1, b + 4, t, limit, ttl)
  else
    sweep(k + 13, k + 14, b + 1, b + 4, t, limit, ttl)
    sweep2(k + 15, k + 16, k + 13, b + 1, b + 4, t, limit, ttl)
  end
end
for i = 1, n do
  local b = (i - 1) * 16 + picks[i] * 6
  local spent = tonumber(redis.call('GET', KEYS[b + 1]) or '0')
  local h = held(b + 2)
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
  local b = (i - 1) * 16 + p * 6
  local amount = ARGV[7 + (i - 1) * 7]
  redis.call('HSET', KEYS[b + 5], ARGV[2], amount)
  redis.call('ZADD', KEYS[b + 6], deadline, ARGV[2])
  redis.call('HINCRBYFLOAT', KEYS[b + 2], TOTAL, amount)
  for k = 1, 6 do redis.call('EXPIRE', KEYS[b + k], ARGV[8 + p + (i - 1) * 7]) end
  answer[i + 1] = p
end
return answer
`;

/**
 * KEYS: per budget the six keys of its hold's period, then the spent and expired keys of the
 * period after it (eight in all). ARGV: reservation id, n, at ('' for Redis's clock), then per budget: the real
 * amount, when the hold's period ends, the next period's TTL in seconds.
 * A live hold is replaced by the real amount, charged to the period Redis's clock is in: the hold's,
 * or after a rollover the next one (the period the operator mirrors by then; a request is charged
 * to the period it ends in, as the reported mode counts it). A hold that already expired (charged at
 * its worst case) is corrected to the real amount where it was charged: its own period, or the next
 * one when it expired after the rollover (MIRROR_READ_SCRIPT). A live hold is taken off the
 * period's total of holds (an older hold, by id in `holds`, has none to take off).
 */
export const SETTLE_SCRIPT = `${CLOCK}${UNHOLD}
local n = tonumber(ARGV[2])
local t = clock(ARGV[3])
for i = 1, n do
  local b = (i - 1) * 8
  local a = 3 + (i - 1) * 3
  local actual = tonumber(ARGV[a + 1])
  local live = false
  local amount = redis.call('HGET', KEYS[b + 5], ARGV[1])
  if amount then
    redis.call('HDEL', KEYS[b + 5], ARGV[1])
    redis.call('ZREM', KEYS[b + 6], ARGV[1])
    unhold(b + 2, b + 5, amount)
    live = true
  elseif redis.call('HDEL', KEYS[b + 2], ARGV[1]) == 1 then
    redis.call('ZREM', KEYS[b + 3], ARGV[1])
    live = true
  end
  if live then
    if actual ~= 0 then
      if t >= tonumber(ARGV[a + 2]) then
        redis.call('INCRBYFLOAT', KEYS[b + 7], actual)
        redis.call('EXPIRE', KEYS[b + 7], ARGV[a + 3])
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
      charged = redis.call('HGET', KEYS[b + 8], ARGV[1])
      if charged then
        redis.call('INCRBYFLOAT', KEYS[b + 7], actual - tonumber(charged))
        redis.call('HDEL', KEYS[b + 8], ARGV[1])
      end
    end
  end
end
return 1
`;

/**
 * Spend no hold stood for, added at once (Admission.charge: a Realtime response as it ends) to the
 * period Redis's clock is in. KEYS: per budget the spent keys of two adjacent periods; ARGV: n, at
 * ('' for Redis's clock), then per budget the amount, each key's TTL in seconds, lo, mid, hi.
 * Returns {-1, Redis's time} (nothing written) when that time is in neither period of a budget.
 */
export const CHARGE_SCRIPT = `${CLOCK}
local n = tonumber(ARGV[1])
local t = clock(ARGV[2])
local picks = {}
for i = 1, n do
  local a = 2 + (i - 1) * 6
  local p = pick(t, ARGV[a + 4], ARGV[a + 5], ARGV[a + 6])
  if p == nil then return {-1, t} end
  picks[i] = p
end
for i = 1, n do
  local a = 2 + (i - 1) * 6
  local amount = tonumber(ARGV[a + 1])
  if amount ~= 0 then
    local key = KEYS[(i - 1) * 2 + 1 + picks[i]]
    redis.call('INCRBYFLOAT', key, amount)
    redis.call('EXPIRE', key, ARGV[a + 2 + picks[i]])
  end
end
return {0}
`;

/** How many holds one REFRESH_SCRIPT call moves (a pod with more in flight sends several). */
export const REFRESH_BATCH = 500;

/**
 * KEYS: deadline sets, one per hold (a set repeats for each of its holds); ARGV: the hold timeout in
 * ms, at ('' for Redis's clock), then the reservation id of each KEYS entry, in the same order.
 * Moves the deadline of holds that still exist to Redis's clock plus the timeout.
 */
export const REFRESH_SCRIPT = `${CLOCK}
local deadline = clock(ARGV[2]) + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do redis.call('ZADD', key, 'XX', deadline, ARGV[i + 2]) end
return 1
`;

/**
 * The operator's read of one budget (KEYS: its six keys, its `seeded` marker, then the previous
 * period's six keys; ARGV: now (Redis's clock), the spent Budget.status has for this same period (0
 * for another period), the keys' TTL in seconds, the sweep limit). Charges expired holds (at most the
 * limit of each period: the rest are charged by the next read, or a pod's reserve), makes sure Redis
 * does not hold less than the status, and returns {spent, held}.
 *
 * Holds of the previous period that expire after its rollover (their pod died) are charged to this
 * period at their worst case, as their settle would have been (SETTLE_SCRIPT); a pod's reserve
 * charges them too (RESERVE_SCRIPT), so they are charged while the operator is down.
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
sweep(2, 3, 1, 4, tonumber(ARGV[1]), tonumber(ARGV[4]), ARGV[3])
sweep2(5, 6, 2, 1, 4, tonumber(ARGV[1]), tonumber(ARGV[4]), ARGV[3])
sweep(9, 10, 1, 4, tonumber(ARGV[1]), tonumber(ARGV[4]), ARGV[3])
sweep2(12, 13, 9, 1, 4, tonumber(ARGV[1]), tonumber(ARGV[4]), ARGV[3])
local floor = tonumber(ARGV[2])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if redis.call('EXISTS', KEYS[7]) == 0 then
  if cur < floor then
    redis.call('INCRBYFLOAT', KEYS[1], floor)
    redis.call('EXPIRE', KEYS[1], ARGV[3])
  end
  redis.call('SET', KEYS[7], ARGV[2], 'EX', ARGV[3])
elseif cur < floor then
  redis.call('INCRBYFLOAT', KEYS[1], floor - cur)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {redis.call('GET', KEYS[1]) or '0', tostring(held(2))}
`;
