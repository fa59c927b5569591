/**
 * Each change to shared state is one Lua script: Redis runs it atomically, so two nodes adding the
 * same presence user in the same millisecond see one `added`, and a dead node's part is removed by
 * exactly one reaper. Every script first checks the node's tombstone: a node declared dead cannot
 * write under its old id. Keys a script derives from the app's base (per-channel member hashes)
 * share the app's hash tag, so they live in the slot of the declared keys. Scripts that publish
 * on the bus call `PUBLISH`, a name the link defines (SPUBLISH on a Redis Cluster).
 */

import { USER_CHANNEL_PREFIX } from '../../protocol/names.js';

/** The caller's node was declared dead: it must take a new id. */
export const DEAD = -1;

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * The occupied channel names beside the `channels` hash (KEYS[1]), as a sorted set (`…:names`,
 * in the same slot) so `GET /channels` reads one page with ZRANGEBYLEX instead of the whole hash.
 * User channels (`#server-to-user-…`) are never listed.
 */
const NAMES = `
local names = KEYS[1] .. ':names'
local function occupy(channel)
  if string.sub(channel, 1, ${USER_CHANNEL_PREFIX.length}) ~= '${USER_CHANNEL_PREFIX}' then redis.call('ZADD', names, 0, channel) end
end
local function vacate(channel) redis.call('ZREM', names, channel) end`;

/**
 * The next member-event seq, kept in `key`: Redis time in microseconds, or the last seq + 1 when
 * that is higher. It only grows, even across a Redis restarted empty (nodes still hold seqs from
 * before); `%.0f` because Lua would print a number this large in exponent form.
 */
const NEXT_SEQ = `
local function next_seq(key)
  local t = redis.call('TIME')
  local seq = math.max(tonumber(t[1]) * 1000000 + tonumber(t[2]), tonumber(redis.call('GET', key) or '0') + 1)
  redis.call('SET', key, string.format('%.0f', seq))
  return seq
end`;

/**
 * Subscribe. KEYS: channels, node channels, dead, members, info, node members, seq, cache.
 * ARGV: channel, user id ('' unless presence), user info JSON, max members, '1' to read the cache,
 * then the bus channel and the `member_added` bus message around its seq (head, tail).
 * → {subscriptions, added (its member-event seq, or 0), roster (flat user/info list or nil),
 *   cached JSON or nil, the seq the roster includes}; {-1} dead; {-2} full.
 *
 * Member events are numbered from one counter per app (`seq`) and published to the other nodes
 * by the script that makes the change. So an event numbered at or below the seq a roster was
 * read at is already in that roster, and member events reach every node in the order their
 * changes happened, whichever nodes made them (a join confirmed on one node is announced
 * everywhere before a join that follows it on another).
 */
export const JOIN = `${NEXT_SEQ}
${NAMES}
if redis.call('EXISTS', KEYS[3]) == 1 then return {${DEAD}} end
local added, roster, cached, seen = 0, false, false, 0
if ARGV[2] ~= '' then
  local c = tonumber(redis.call('HGET', KEYS[4], ARGV[2]) or '0')
  if c <= 0 then
    if redis.call('HLEN', KEYS[4]) >= tonumber(ARGV[4]) then return {-2} end
    redis.call('HSET', KEYS[5], ARGV[2], ARGV[3])
    added = next_seq(KEYS[7])
    redis.call(PUBLISH, ARGV[6], ARGV[7] .. string.format('%.0f', added) .. ARGV[8])
  end
  redis.call('HINCRBY', KEYS[4], ARGV[2], 1)
  redis.call('HINCRBY', KEYS[6], ARGV[1] .. '\\n' .. ARGV[2], 1)
  roster = redis.call('HGETALL', KEYS[5])
  seen = tonumber(redis.call('GET', KEYS[7]) or '0')
end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if n == 1 then occupy(ARGV[1]) end
if ARGV[5] == '1' then cached = redis.call('GET', KEYS[8]) end
return {n, added, roster, cached, seen}
`;

/**
 * Unsubscribe or close. Same KEYS as JOIN (without cache); ARGV: channel, user id or '', then the
 * bus channel and the `member_removed` bus message around its seq (published as in JOIN).
 * Only what this node's part holds is subtracted, so a leave after a rewrite never counts twice.
 * → {subscriptions left, removed (its member-event seq, or 0)}; {-1, 0} dead.
 */
export const LEAVE = `${NEXT_SEQ}
${NAMES}
if redis.call('EXISTS', KEYS[3]) == 1 then return {${DEAD}, 0} end
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if mine <= 0 then return {tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0'), 0} end
if mine == 1 then redis.call('HDEL', KEYS[2], ARGV[1]) else redis.call('HINCRBY', KEYS[2], ARGV[1], -1) end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  vacate(ARGV[1])
  n = 0
end
local removed = 0
if ARGV[2] ~= '' then
  local field = ARGV[1] .. '\\n' .. ARGV[2]
  local own = tonumber(redis.call('HGET', KEYS[6], field) or '0')
  if own > 0 then
    if own == 1 then redis.call('HDEL', KEYS[6], field) else redis.call('HINCRBY', KEYS[6], field, -1) end
    if redis.call('HINCRBY', KEYS[4], ARGV[2], -1) <= 0 then
      redis.call('HDEL', KEYS[4], ARGV[2])
      redis.call('HDEL', KEYS[5], ARGV[2])
      removed = next_seq(KEYS[7])
      redis.call(PUBLISH, ARGV[3], ARGV[4] .. string.format('%.0f', removed) .. ARGV[5])
    end
  end
end
return {n, removed}
`;

/** Sign-in. KEYS: users, node users, dead. ARGV: user id, +1 or -1. → connections after; -1 dead. */
export const SIGN = `
if redis.call('EXISTS', KEYS[3]) == 1 then return ${DEAD} end
local delta = tonumber(ARGV[2])
if delta < 0 then
  local own = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
  if own <= 0 then return tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') + 1 end
  if own == 1 then redis.call('HDEL', KEYS[2], ARGV[1]) else redis.call('HINCRBY', KEYS[2], ARGV[1], -1) end
else
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], delta)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]); n = 0 end
return n
`;

/**
 * A connection opens (+1, checked against ARGV[3] = max, 0 for none) or closes (-1).
 * KEYS: connections, dead. ARGV: node, delta, max. → 1 admitted, 0 over quota, -1 dead.
 */
export const COUNT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return ${DEAD} end
local max = tonumber(ARGV[3])
if tonumber(ARGV[2]) > 0 and max > 0 then
  local total = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
  if total >= max then return 0 end
end
if redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2]) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
`;

/**
 * Replaces a node's whole part of the app's state, atomically: subtract what it held, add what it
 * holds now. Three modes (ARGV[2]):
 * - 'rewrite': this node after a (re)connect, with its current part in ARGV[5] (JSON: flat lists
 *   `channels` [name, n…], `members` [channel, user, n, info…], `users` [user, n…], `connections` n,
 *   and `occupied` [name…], the channels it first subscribed while Redis was away);
 * - 'reap': a node whose heartbeat is older than ARGV[4] ms, declared dead (tombstone for ARGV[6] ms);
 * - 'withdraw': this node on a graceful stop.
 * KEYS: channels, node channels, users, node users, connections, node members, nodes, dead.
 * ARGV[1] node, ARGV[3] the app's key base.
 * → false when nothing was done (dead, or not due for reaping), else {removed [channel, user, seq…],
 *   vacated [channel…], offline [user…], occupied [channel…]}: only what is really gone once the
 *   new part is in, and those of `occupied` that nobody held before this rewrite (their
 *   `channel_occupied` is due now, and only from this node).
 */
export const REPLACE = `
${NOW}
${NEXT_SEQ}
${NAMES}
local node, mode, base = ARGV[1], ARGV[2], ARGV[3]
local fresh = {}
if mode == 'rewrite' then
  if redis.call('EXISTS', KEYS[8]) == 1 then return false end
  for _, channel in ipairs(cjson.decode(ARGV[5]).occupied) do
    if redis.call('HEXISTS', KEYS[1], channel) == 0 then fresh[#fresh + 1] = channel end
  end
elseif mode == 'reap' then
  local beat = redis.call('ZSCORE', KEYS[7], node)
  if not beat or now - tonumber(beat) < tonumber(ARGV[4]) then return false end
end
local vacated, removed, offline = {}, {}, {}
local old = redis.call('HGETALL', KEYS[2])
for i = 1, #old, 2 do
  if redis.call('HINCRBY', KEYS[1], old[i], -tonumber(old[i + 1])) <= 0 then
    redis.call('HDEL', KEYS[1], old[i])
    vacate(old[i])
    vacated[#vacated + 1] = old[i]
  end
end
old = redis.call('HGETALL', KEYS[6])
for i = 1, #old, 2 do
  local sep = string.find(old[i], '\\n', 1, true)
  local channel, user = string.sub(old[i], 1, sep - 1), string.sub(old[i], sep + 1)
  local members = base .. 'members:' .. channel
  if redis.call('HINCRBY', members, user, -tonumber(old[i + 1])) <= 0 then
    redis.call('HDEL', members, user)
    redis.call('HDEL', base .. 'info:' .. channel, user)
    removed[#removed + 1] = channel
    removed[#removed + 1] = user
  end
end
old = redis.call('HGETALL', KEYS[4])
for i = 1, #old, 2 do
  if redis.call('HINCRBY', KEYS[3], old[i], -tonumber(old[i + 1])) <= 0 then
    redis.call('HDEL', KEYS[3], old[i])
    offline[#offline + 1] = old[i]
  end
end
redis.call('DEL', KEYS[2], KEYS[4], KEYS[6])
redis.call('HDEL', KEYS[5], node)
if mode == 'rewrite' then
  local part = cjson.decode(ARGV[5])
  if part.connections > 0 then redis.call('HSET', KEYS[5], node, part.connections) end
  local list = part.channels
  for i = 1, #list, 2 do
    if redis.call('HINCRBY', KEYS[1], list[i], list[i + 1]) == list[i + 1] then occupy(list[i]) end
    redis.call('HSET', KEYS[2], list[i], list[i + 1])
  end
  list = part.members
  for i = 1, #list, 4 do
    local members = base .. 'members:' .. list[i]
    if redis.call('HINCRBY', members, list[i + 1], list[i + 2]) == list[i + 2] then
      redis.call('HSET', base .. 'info:' .. list[i], list[i + 1], list[i + 3])
    end
    redis.call('HSET', KEYS[6], list[i] .. '\\n' .. list[i + 1], list[i + 2])
  end
  list = part.users
  for i = 1, #list, 2 do
    redis.call('HINCRBY', KEYS[3], list[i], list[i + 1])
    redis.call('HSET', KEYS[4], list[i], list[i + 1])
  end
  redis.call('ZADD', KEYS[7], now, node)
else
  redis.call('ZREM', KEYS[7], node)
  redis.call('SET', KEYS[8], '1', 'PX', ARGV[6])
end
local gone = {{}, {}, {}, fresh}
for i = 1, #removed, 2 do
  if redis.call('HEXISTS', base .. 'members:' .. removed[i], removed[i + 1]) == 0 then
    table.insert(gone[1], removed[i])
    table.insert(gone[1], removed[i + 1])
    table.insert(gone[1], next_seq(base .. 'seq'))
  end
end
for _, channel in ipairs(vacated) do
  if redis.call('HEXISTS', KEYS[1], channel) == 0 then table.insert(gone[2], channel) end
end
for _, user in ipairs(offline) do
  if redis.call('HEXISTS', KEYS[3], user) == 0 then table.insert(gone[3], user) end
end
return gone
`;

/**
 * KEYS: nodes, dead. ARGV: node, timeout ms. Beats for this node (→ 1), or → -1 when it was
 * declared dead (tombstone, or reaped and gone from the set); also lists the nodes due for reaping.
 * → {status, expired node ids}.
 */
export const HEARTBEAT = `
${NOW}
if redis.call('EXISTS', KEYS[2]) == 1 or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {${DEAD}, {}} end
redis.call('ZADD', KEYS[1], now, ARGV[1])
return {1, redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))}
`;

/**
 * One page of occupied channels with counts, in one round trip and O(page) work.
 * KEYS: channels. ARGV: app base, prefix, after ('' from the start), limit.
 * → flat [name, subscriptions, presence users…], in name order, at most limit + 1 names.
 */
export const CHANNELS = `
local prefix, after = ARGV[2], ARGV[3]
local min, max = '[' .. prefix, '+'
if after ~= '' and after >= prefix then min = '(' .. after end
if prefix ~= '' then max = '[' .. prefix .. '\\255' end
local out = {}
for _, name in ipairs(redis.call('ZRANGEBYLEX', KEYS[1] .. ':names', min, max, 'LIMIT', 0, tonumber(ARGV[4]) + 1)) do
  local users = 0
  if string.sub(name, 1, 9) == 'presence-' then users = redis.call('HLEN', ARGV[1] .. 'members:' .. name) end
  out[#out + 1] = name
  out[#out + 1] = tonumber(redis.call('HGET', KEYS[1], name) or '0')
  out[#out + 1] = users
end
return out
`;

/**
 * Sends a node's bus batch to the nodes that need it. KEYS: channels, this node's channels.
 * ARGV: bus channel, batch head, then pairs (channel, record): a record about a channel goes only
 * if another node holds subscriptions to it (all of them minus this node's); '' goes always.
 * Publishes what is left as one batch, or nothing. → records published.
 */
export const RELAY = `
local out = {}
for i = 3, #ARGV, 2 do
  local channel = ARGV[i]
  if channel == '' or tonumber(redis.call('HGET', KEYS[1], channel) or '0') > tonumber(redis.call('HGET', KEYS[2], channel) or '0') then
    out[#out + 1] = ARGV[i + 1]
  end
end
if #out > 0 then redis.call(PUBLISH, ARGV[1], ARGV[2] .. table.concat(out)) end
return #out
`;
