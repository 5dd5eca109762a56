/**
 * Lua scripts of the Redis cluster store. Every multi-key change runs as one script, so it is
 * atomic with respect to every other process (Redis runs scripts one at a time). Keys are built
 * inside the scripts from the prefix in ARGV[1]: this targets a single Redis (or a primary with
 * replicas), not Redis Cluster sharding.
 *
 * Layout (P = prefix):
 *   P nodes            SET of node ids
 *   P node:<id>        HASH id type host port state users
 *   P alive:<id>       STRING with a PX TTL, refreshed by the node (liveness)
 *   P sess:<sid>       HASH node uid rec(JSON SessionRecord)
 *   P nsess:<node>     SET of the sids whose sess:<sid> names that node (reaped with a dead node)
 *   P dead             ZSET node id -> when its liveness was first seen expired (reap grace)
 *   P user:<uid>       STRING sid
 *   P pq:<node>        STREAM of what a node must do, in order: k=s (adopt session), k=h (adopt
 *                      handed-off session, awaits its claim), k=p (push), k=m (a handoff marker
 *                      of earlier versions, ignored), k=x (a NodeMessage: forward, forward-end, room-migrated, claimed)
 *   P hoff:<sid>       HASH rec(JSON HandoffRecord) exp(ms, Redis time) claimed(0/1) to
 *   P hexp:<node>      ZSET sid -> exp, handoffs to that node, for the expiry sweep
 *   (rooms: see rooms/room-scripts.ts)
 */

/** Shared Lua helpers: Redis server time in ms, user counters that never go below 0, push routing. */
export const PRELUDE = `
local P = ARGV[1]
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function bump(node, d)
  local k = P .. 'node:' .. node
  if redis.call('EXISTS', k) == 0 then return end
  local n = redis.call('HINCRBY', k, 'users', d)
  if n < 0 then redis.call('HSET', k, 'users', 0) end
end
local MAXLEN = 100000
-- Queues a push on the stream of the node holding the user; 0 when it has no live session.
local function route(uid, ver, cmd, payload)
  local sid = redis.call('GET', P .. 'user:' .. uid)
  if not sid then return 0 end
  local node = redis.call('HGET', P .. 'sess:' .. sid, 'node')
  if not node then return 0 end
  -- A node whose liveness expired holds nobody: its sessions died with it.
  if redis.call('EXISTS', P .. 'alive:' .. node) == 0 then return 0 end
  redis.call('XADD', P .. 'pq:' .. node, 'MAXLEN', '~', MAXLEN, '*', 'k', 'p', 's', sid, 'v', ver, 'c', cmd, 'd', payload)
  return 1
end
-- Keeps nsess:<node> in step with sess:<sid>.node, so a dead node's sessions can be found.
local function own(sid, old, new)
  if old and old ~= new then redis.call('SREM', P .. 'nsess:' .. old, sid) end
  if new then redis.call('SADD', P .. 'nsess:' .. new, sid) end
end
-- Removes a node and everything registered on it: its sessions (and their users, unless a
-- newer session of the user replaced them), handoffs waiting for it, its stream.
local function reap(id)
  local removed = 0
  for _, sid in ipairs(redis.call('SMEMBERS', P .. 'nsess:' .. id)) do
    local sk = P .. 'sess:' .. sid
    local v = redis.call('HMGET', sk, 'node', 'uid')
    if v[1] == id then
      redis.call('DEL', sk)
      local uk = P .. 'user:' .. v[2]
      if redis.call('GET', uk) == sid then redis.call('DEL', uk) end
      removed = removed + 1
    end
  end
  for _, sid in ipairs(redis.call('ZRANGE', P .. 'hexp:' .. id, 0, -1)) do
    local hk = P .. 'hoff:' .. sid
    if redis.call('HGET', hk, 'to') == id then redis.call('DEL', hk) end
  end
  redis.call('SREM', P .. 'nodes', id)
  redis.call('ZREM', P .. 'dead', id)
  redis.call('DEL', P .. 'node:' .. id, P .. 'alive:' .. id, P .. 'pq:' .. id, P .. 'hexp:' .. id,
    P .. 'nsess:' .. id)
  return removed
end
`;

/** ARGV: P id type host port state ttlMs first(1|0). Returns the node stream's last id. */
export const BEAT = `${PRELUDE}
local id = ARGV[2]
local k = P .. 'node:' .. id
redis.call('HSET', k, 'id', id, 'type', ARGV[3], 'host', ARGV[4], 'port', ARGV[5], 'state', ARGV[6], 'ports', ARGV[9] or '')
if ARGV[8] == '1' then redis.call('HSET', k, 'users', 0) else redis.call('HSETNX', k, 'users', 0) end
redis.call('SADD', P .. 'nodes', id)
redis.call('SET', P .. 'alive:' .. id, '1', 'PX', ARGV[7])
redis.call('ZREM', P .. 'dead', id)
local last = redis.call('XREVRANGE', P .. 'pq:' .. id, '+', '-', 'COUNT', 1)
if #last == 0 then return '0-0' end
return last[1][1]
`;

/** ARGV: P id. A node leaving; sessions still registered on it end with it. */
export const UNREGISTER = `${PRELUDE}
reap(ARGV[2])
return 1
`;

/**
 * ARGV: P graceMs. Reaps every registered node whose liveness key has been expired for graceMs
 * (crashed, kill -9, cut off): its session records would otherwise stay forever. The grace lets
 * nodes that were only late (a Redis restart, a long pause) beat again first; BEAT clears the
 * mark. Returns the number of sessions removed.
 */
export const REAP_DEAD = `${PRELUDE}
local removed, t = 0, now()
for _, id in ipairs(redis.call('SMEMBERS', P .. 'nodes')) do
  if redis.call('EXISTS', P .. 'alive:' .. id) == 0 then
    redis.call('ZADD', P .. 'dead', 'NX', t, id)
    if t - tonumber(redis.call('ZSCORE', P .. 'dead', id)) >= tonumber(ARGV[2]) then
      removed = removed + reap(id)
    end
  end
end
return removed
`;

/** ARGV: P sid uid node recJson. Registers (or replaces) a session; its node adopts it first. */
export const REGISTER_SESSION = `${PRELUDE}
local sid, uid, node = ARGV[2], ARGV[3], ARGV[4]
local sk = P .. 'sess:' .. sid
local old = redis.call('HGET', sk, 'node')
if old then bump(old, -1) end
own(sid, old, node)
redis.call('HSET', sk, 'node', node, 'uid', uid, 'rec', ARGV[5])
redis.call('SET', P .. 'user:' .. uid, sid)
bump(node, 1)
redis.call('XADD', P .. 'pq:' .. node, 'MAXLEN', '~', MAXLEN, '*', 'k', 's', 's', sid, 'r', ARGV[5])
return 1
`;

/** ARGV: P sid node. */
export const MOVE_SESSION = `${PRELUDE}
local sk = P .. 'sess:' .. ARGV[2]
local old = redis.call('HGET', sk, 'node')
if (not old) or old == ARGV[3] then return 0 end
bump(old, -1)
bump(ARGV[3], 1)
own(ARGV[2], old, ARGV[3])
redis.call('HSET', sk, 'node', ARGV[3])
return 1
`;

/** ARGV: P sid. */
export const REMOVE_SESSION = `${PRELUDE}
local sid = ARGV[2]
local sk = P .. 'sess:' .. sid
local v = redis.call('HMGET', sk, 'node', 'uid')
if not v[1] then return 0 end
bump(v[1], -1)
own(sid, v[1], nil)
redis.call('DEL', sk)
local uk = P .. 'user:' .. v[2]
if redis.call('GET', uk) == sid then redis.call('DEL', uk) end
return 1
`;

/** ARGV: P uid ver cmd payload. 1 = queued on the stream of the node holding the user. */
export const ROUTE_PUSH = `${PRELUDE}
return route(ARGV[2], ARGV[3], ARGV[4], ARGV[5])
`;

/**
 * ARGV: P sid uid from to handoffJson sessionJson ttlMs. Stores the handoff, moves the session to
 * `to` and queues the adoption on the target's stream. Returns the id of the old node's last
 * stream entry ('0-0' when it has none): every push routed to the old node before the move is at
 * or before it; every push after it goes to the target, behind the adoption. (No marker entry: one
 * would wake the old node's reader once more per move, and its id says no more than this one.)
 */
export const PUT_HANDOFF = `${PRELUDE}
local sid, uid, from, to = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local hk = P .. 'hoff:' .. sid
local prevTo = redis.call('HGET', hk, 'to')
if prevTo then redis.call('ZREM', P .. 'hexp:' .. prevTo, sid) end
local sk = P .. 'sess:' .. sid
local old = redis.call('HGET', sk, 'node')
if old then bump(old, -1) end
bump(to, 1)
own(sid, old, to)
redis.call('HSET', sk, 'node', to, 'uid', uid, 'rec', ARGV[7])
redis.call('SET', P .. 'user:' .. uid, sid)
local exp = now() + tonumber(ARGV[8])
redis.call('DEL', hk)
redis.call('HSET', hk, 'rec', ARGV[6], 'exp', exp, 'claimed', 0, 'to', to)
redis.call('ZADD', P .. 'hexp:' .. to, exp, sid)
redis.call('XADD', P .. 'pq:' .. to, 'MAXLEN', '~', MAXLEN, '*', 'k', 'h', 's', sid, 'r', ARGV[7])
local last = redis.call('XREVRANGE', P .. 'pq:' .. from, '+', '-', 'COUNT', 1)
if #last == 0 then return '0-0' end
return last[1][1]
`;

/**
 * ARGV: P sid ticket. Returns {reason} or {'ok', recJson, previouslyClaimed}; a first claim of a
 * record with reportClaim also puts a 'claimed' message on the old node's stream.
 */
export const CLAIM_HANDOFF = `${PRELUDE}
local hk = P .. 'hoff:' .. ARGV[2]
local v = redis.call('HMGET', hk, 'rec', 'exp', 'claimed')
if not v[1] then return {'unknown'} end
local rec = cjson.decode(v[1])
if rec.ticket ~= ARGV[3] then return {'wrong-ticket'} end
if now() >= tonumber(v[2]) then return {'expired'} end
redis.call('HSET', hk, 'claimed', 1)
-- The first claim is reported to the old node (it paces its offline notices on it): no round trip.
if v[3] == '0' and rec.reportClaim and rec.from then
  redis.call('XADD', P .. 'pq:' .. rec.from, 'MAXLEN', '~', MAXLEN, '*', 'k', 'x', 't', 'claimed', 's', ARGV[2])
end
return {'ok', v[1], v[3]}
`;

/** ARGV: P node. Removes due handoffs to `node`; returns the records of the unclaimed ones. */
export const SWEEP_HANDOFFS = `${PRELUDE}
local t = now()
local zk = P .. 'hexp:' .. ARGV[2]
local due = redis.call('ZRANGEBYSCORE', zk, '-inf', t, 'LIMIT', 0, 100)
local out = {}
for _, sid in ipairs(due) do
  redis.call('ZREM', zk, sid)
  local hk = P .. 'hoff:' .. sid
  local v = redis.call('HMGET', hk, 'rec', 'claimed', 'exp', 'to')
  if v[1] and v[4] == ARGV[2] and tonumber(v[3]) <= t then
    redis.call('DEL', hk)
    if v[2] == '0' then table.insert(out, v[1]) end
  end
end
return out
`;

/** ARGV: P id state. Only for a node that is registered. */
export const SET_STATE = `${PRELUDE}
local k = P .. 'node:' .. ARGV[2]
if redis.call('EXISTS', k) == 0 then return 0 end
redis.call('HSET', k, 'state', ARGV[3])
return 1
`;

/**
 * ARGV: P sid. The session record, and whether a handoff to its node still waits for the claim:
 * {node, recJson, pending(1/0)} or {}. One step, so a claim that reaches the target before the
 * target has read the handoff from its stream still finds the session held for a claim.
 */
export const LOOKUP_SESSION = `${PRELUDE}
local v = redis.call('HMGET', P .. 'sess:' .. ARGV[2], 'node', 'rec')
if not v[1] then return {} end
local h = redis.call('HMGET', P .. 'hoff:' .. ARGV[2], 'to', 'claimed', 'exp')
local pending = 0
if h[1] == v[1] and h[2] == '0' and tonumber(h[3]) > now() then pending = 1 end
return {v[1], v[2], pending}
`;
