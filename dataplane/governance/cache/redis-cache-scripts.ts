/**
 * The Redis response cache's scripts (redis-cache.ts). Key layout, under the cache prefix P:
 *
 * - `P e:<route>#<hash>`: an entry (the response JSON), with its TTL;
 * - `P i:<route>`: the route's entries by last use (sorted set; maxEntries per route);
 * - `P n:<namespace>`: the namespace's entries by last use (sorted set; its share and the global bound);
 * - `P g:exp`: every entry by expiry time (sorted set), so that expired entries are found and
 *   forgotten: their bytes released and their index members dropped;
 * - `P g:size`: every entry's accounted bytes (hash);
 * - `P g:ns`: each namespace's accounted bytes (sorted set, so the largest is found in O(log n));
 * - `P g:total`: all entries' accounted bytes.
 *
 * Index members are entry key names, and an entry's route and namespace indexes are derived from
 * its name, so this needs a single Redis primary, not Redis Cluster (as the rate limiter does).
 */

const NOW = `
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
`;

/**
 * forget(member): drops an entry from every index and releases its bytes (the entry key itself is
 * left alone: the caller deletes it, or has just written it). An entry the accounting does not
 * know (stored before the byte bound existed) is dropped from the indexes only.
 * KEYS[4..7] are g:exp, g:size, g:ns, g:total; ARGV[1] is the cache prefix.
 */
const FORGET = `
local prefix = ARGV[1]
local function forget(member)
  local key = string.sub(member, #prefix + 3)
  local route = string.match(key, '^(.*)#') or ''
  local ns = string.match(route, '^([^/]*)/') or route
  redis.call('ZREM', prefix .. 'i:' .. route, member)
  redis.call('ZREM', prefix .. 'n:' .. ns, member)
  redis.call('ZREM', KEYS[4], member)
  local size = tonumber(redis.call('HGET', KEYS[5], member))
  if not size then return 0 end
  redis.call('HDEL', KEYS[5], member)
  if tonumber(redis.call('ZINCRBY', KEYS[6], -size, ns)) <= 0 then redis.call('ZREM', KEYS[6], ns) end
  if tonumber(redis.call('DECRBY', KEYS[7], size)) <= 0 then redis.call('DEL', KEYS[7]) end
  return size
end
`;

/**
 * KEYS: entry, route index, namespace index, g:exp, g:size, g:ns, g:total. ARGV: prefix.
 * Reads the entry and marks it used. An entry gone (expired, or lost) that the accounting still
 * holds is forgotten here, so its bytes are free for the next store. Marking is best effort
 * (pcall): at maxmemory a hit is still a hit.
 */
export const GET_SCRIPT = `${NOW}${FORGET}
local v = redis.call('GET', KEYS[1])
if v then
  redis.pcall('ZADD', KEYS[2], 'XX', now, KEYS[1])
  redis.pcall('ZADD', KEYS[3], 'XX', now, KEYS[1])
elseif redis.call('ZSCORE', KEYS[4], KEYS[1]) then
  forget(KEYS[1])
end
return v
`;

/** Expired entries forgotten per store at most (each is forgotten once; a backlog drains over the next stores). */
export const PURGE_PER_STORE = 64;

/**
 * KEYS: entry, route index, namespace index, g:exp, g:size, g:ns, g:total.
 * ARGV: prefix, value, ttl ms, max entries of the route, accounted bytes of the entry, byte
 * budget of all entries, byte share of one namespace, namespace.
 *
 * Stores the entry, then makes room for it: forgets expired entries, drops the route's least
 * recently used entries beyond maxEntries, the namespace's least recently used beyond its share,
 * and, while all entries together are above the budget, the least recently used entry of the
 * namespace that holds the most bytes (one tenant's stores evict its own entries before anyone
 * else's). Returns the number of live entries evicted.
 *
 * The SET comes first on purpose: at maxmemory Redis refuses a script's first write that may grow
 * memory (OOM), and only its first, so the store fails whole and changes nothing.
 */
export const SET_SCRIPT = `${NOW}${FORGET}
local entry = KEYS[1]
local ttl = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
local budget = tonumber(ARGV[6])
local share = tonumber(ARGV[7])
local ns = ARGV[8]
redis.call('SET', entry, ARGV[2], 'PX', ttl)
-- A replaced entry is accounted anew.
forget(entry)
local evicted = 0
local function evict(member)
  local size = forget(member)
  evicted = evicted + redis.call('DEL', member)
  return size
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, ${PURGE_PER_STORE})
for i = 1, #expired do
  forget(expired[i])
  redis.call('DEL', expired[i])
end
local n = redis.call('ZCARD', KEYS[2])
if n >= max then
  local old = redis.call('ZPOPMIN', KEYS[2], n - max + 1)
  for i = 1, #old, 2 do evict(old[i]) end
end
local held = tonumber(redis.call('ZSCORE', KEYS[6], ns)) or 0
while held + cost > share do
  local lru = redis.call('ZRANGE', KEYS[3], 0, 0)
  if #lru == 0 then
    -- Accounting without entries (keys deleted behind its back): start this namespace afresh.
    redis.call('ZREM', KEYS[6], ns)
    redis.call('DECRBY', KEYS[7], held)
    break
  end
  evict(lru[1])
  held = tonumber(redis.call('ZSCORE', KEYS[6], ns)) or 0
end
local total = tonumber(redis.call('GET', KEYS[7])) or 0
while total + cost > budget do
  local top = redis.call('ZREVRANGE', KEYS[6], 0, 0, 'WITHSCORES')
  if #top == 0 then
    redis.call('DEL', KEYS[7])
    break
  end
  local lru = redis.call('ZRANGE', prefix .. 'n:' .. top[1], 0, 0)
  if #lru == 0 then
    redis.call('ZREM', KEYS[6], top[1])
    redis.call('DECRBY', KEYS[7], tonumber(top[2]))
  else
    evict(lru[1])
  end
  total = tonumber(redis.call('GET', KEYS[7])) or 0
end
if total < 0 then redis.call('DEL', KEYS[7]) end
redis.call('ZADD', KEYS[2], now, entry)
-- Indexes live without a TTL (expired members are forgotten instead); one written by an earlier
-- version has one, and would take this entry's membership with it when it expires.
redis.call('PERSIST', KEYS[2])
redis.call('ZADD', KEYS[3], now, entry)
redis.call('ZADD', KEYS[4], now + ttl, entry)
redis.call('HSET', KEYS[5], entry, cost)
redis.call('ZINCRBY', KEYS[6], cost, ns)
redis.call('INCRBY', KEYS[7], cost)
return evicted
`;
