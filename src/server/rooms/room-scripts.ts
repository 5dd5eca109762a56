/**
 * Rooms on the Redis store (PROTOCOL 10): every room change is one Lua script, so it is atomic
 * with respect to every node process, and the pushes it causes (join, leave, owner, props, the
 * broadcast itself) are queued on the members' node streams in the same step, in order.
 *
 * Layout (P = prefix), beside redis-scripts.ts:
 *   P room:<id>      HASH node owner max props(JSON text) ver seq mig(0/1)
 *   P rmem:<id>      HASH uid -> JSON {s: join order, p: present 1/0, n: node, i: sid}
 *   P uroom:<uid>    STRING room id
 *   P nrooms:<node>  SET of the room ids that node holds
 *   P rooms          SET of every room id (listing)
 * A membership belongs to a session (i = sid): once the user's session is another one (the
 * process holding the old one died, the user came back), the stale membership is removed on sight.
 */
import { PRELUDE } from '../redis-scripts';

const ROOMS = `${PRELUDE}
local function rk(id) return P .. 'room:' .. id end
local function mk(id) return P .. 'rmem:' .. id end
local function q(s) return cjson.encode(s) end
local function getm(id, uid)
  local v = redis.call('HGET', mk(id), uid)
  if not v then return nil end
  return cjson.decode(v)
end
local function putm(id, uid, m) redis.call('HSET', mk(id), uid, cjson.encode(m)) end
-- Members in join order: {uid, m}.
local function members(id)
  local flat = redis.call('HGETALL', mk(id))
  local out = {}
  for i = 1, #flat, 2 do table.insert(out, {uid = flat[i], m = cjson.decode(flat[i + 1])}) end
  table.sort(out, function(a, b) return a.m.s < b.m.s end)
  return out
end
-- Props stay the client's JSON text (no re-encoding by cjson).
local function describe(id)
  local r = redis.call('HMGET', rk(id), 'owner', 'props')
  local ids = {}
  for _, e in ipairs(members(id)) do table.insert(ids, q(e.uid)) end
  return '{"roomId":' .. q(id) .. ',"ownerId":' .. q(r[1]) .. ',"members":[' .. table.concat(ids, ',') ..
    '],"props":' .. r[2] .. '}'
end
local function pushAll(id, cmd, payload, except)
  for _, e in ipairs(members(id)) do
    if e.uid ~= except then route(e.uid, '1', cmd, payload) end
  end
end
-- The longest-standing present member (else the longest-standing one) becomes owner: 1/8.
local function elect(id)
  local best, any = nil, nil
  for _, e in ipairs(members(id)) do
    if any == nil then any = e end
    if best == nil and e.m.p == 1 then best = e end
  end
  best = best or any
  if best == nil then return end
  redis.call('HSET', rk(id), 'owner', best.uid)
  pushAll(id, '8', '{"roomId":' .. q(id) .. ',"ownerId":' .. q(best.uid) .. '}', nil)
end
local function dropRoom(id)
  local node = redis.call('HGET', rk(id), 'node')
  if node then redis.call('SREM', P .. 'nrooms:' .. node, id) end
  redis.call('SREM', P .. 'rooms', id)
  redis.call('DEL', rk(id), mk(id))
end
local function removeMember(id, uid)
  if redis.call('HDEL', mk(id), uid) == 0 then return end
  if redis.call('GET', P .. 'uroom:' .. uid) == id then redis.call('DEL', P .. 'uroom:' .. uid) end
  if redis.call('HLEN', mk(id)) == 0 then return dropRoom(id) end
  redis.call('HINCRBY', rk(id), 'ver', 1)
  pushAll(id, '3', '{"roomId":' .. q(id) .. ',"uid":' .. q(uid) .. '}', nil)
  if redis.call('HGET', rk(id), 'owner') == uid then elect(id) end
end
-- The room of this session of the user, and its member entry; nil outside a room.
local function roomOf(uid, sid)
  local id = redis.call('GET', P .. 'uroom:' .. uid)
  if not id then return nil end
  local m = getm(id, uid)
  if m == nil or redis.call('EXISTS', rk(id)) == 0 then
    redis.call('DEL', P .. 'uroom:' .. uid)
    return nil
  end
  if m.i ~= sid then
    removeMember(id, uid)
    return nil
  end
  return id, m
end
`;

/** ARGV: P uid sid roomId node maxMembers propsJson. */
export const ROOM_CREATE = `${ROOMS}
local uid, sid, id, node = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if roomOf(uid, sid) then return {'already-in-room'} end
redis.call('HSET', rk(id), 'node', node, 'owner', uid, 'max', ARGV[6], 'props', ARGV[7], 'ver', 1, 'seq', 0, 'mig', 0)
putm(id, uid, {s = 0, p = 1, n = node, i = sid})
redis.call('SET', P .. 'uroom:' .. uid, id)
redis.call('SADD', P .. 'nrooms:' .. node, id)
redis.call('SADD', P .. 'rooms', id)
return {'ok'}
`;

/** ARGV: P uid sid roomId node. 1/2 to the members, then the joiner is one. */
export const ROOM_JOIN = `${ROOMS}
local uid, sid, id, node = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if roomOf(uid, sid) then return {'already-in-room'} end
local r = redis.call('HMGET', rk(id), 'max', 'mig')
if not r[1] then return {'not-found'} end
if r[2] == '1' then return {'migrating'} end
if redis.call('HLEN', mk(id)) >= tonumber(r[1]) then return {'room-full'} end
pushAll(id, '2', '{"roomId":' .. q(id) .. ',"uid":' .. q(uid) .. '}', nil)
local seq = redis.call('HINCRBY', rk(id), 'seq', 1)
redis.call('HINCRBY', rk(id), 'ver', 1)
putm(id, uid, {s = seq, p = 1, n = node, i = sid})
redis.call('SET', P .. 'uroom:' .. uid, id)
return {'ok', describe(id)}
`;

/** ARGV: P uid sid. */
export const ROOM_LEAVE = `${ROOMS}
local id = roomOf(ARGV[2], ARGV[3])
if not id then return {'not-in-room'} end
removeMember(id, ARGV[2])
return {'ok', id}
`;

/** ARGV: P uid sid payload(1/4 body). 0 = not in a room. */
export const ROOM_BROADCAST = `${ROOMS}
local id = roomOf(ARGV[2], ARGV[3])
if not id then return 0 end
pushAll(id, '4', ARGV[4], ARGV[2])
return 1
`;

/** ARGV: P uid sid. {'ok', describe, id, node, owner, mig, ver, props} or {'not-in-room'}. */
export const ROOM_GET = `${ROOMS}
local id = roomOf(ARGV[2], ARGV[3])
if not id then return {'not-in-room'} end
local r = redis.call('HMGET', rk(id), 'node', 'owner', 'mig', 'ver', 'props')
return {'ok', describe(id), id, r[1], r[2], r[3], r[4], r[5]}
`;

/** ARGV: P uid sid ver mergedPropsJson. Compare-and-set on the room's version: {'conflict'}. */
export const ROOM_SET_PROPS = `${ROOMS}
local id = roomOf(ARGV[2], ARGV[3])
if not id then return {'not-in-room'} end
if redis.call('HGET', rk(id), 'ver') ~= ARGV[4] then return {'conflict'} end
redis.call('HSET', rk(id), 'props', ARGV[5])
redis.call('HINCRBY', rk(id), 'ver', 1)
pushAll(id, '6', '{"roomId":' .. q(id) .. ',"props":' .. ARGV[5] .. '}', nil)
return {'ok'}
`;

/**
 * ARGV: P uid sid node what. what = 'closed': the member's session ended (it leaves; a session
 * handed off does not end, so this is never a member on its way);
 * 'present': its session is bound at node (a moving member is counted in, no 1/2); 'expired': its
 * handoff expired unclaimed (an absent member is removed, the owner re-elected).
 */
export const ROOM_SESSION = `${ROOMS}
local uid, sid, node, what = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local id, m = roomOf(uid, sid)
if not id then return 0 end
if what == 'present' then
  m.p = 1
  m.n = node
  putm(id, uid, m)
elseif what == 'closed' or (what == 'expired' and m.p == 0) then
  removeMember(id, uid)
end
return 1
`;

/** ARGV: P roomId. Claims the room's move: {'ok', owner, node, uid...} or {reason}. */
export const ROOM_BEGIN_MOVE = `${ROOMS}
local id = ARGV[2]
local r = redis.call('HMGET', rk(id), 'owner', 'node', 'mig')
if not r[1] then return {'not-found'} end
if r[3] == '1' then return {'migrating'} end
redis.call('HSET', rk(id), 'mig', 1)
local out = {'ok', r[1], r[2]}
for _, e in ipairs(members(id)) do table.insert(out, e.uid) end
return out
`;

/** ARGV: P roomId. The move is over (or did not happen). */
export const ROOM_END_MOVE = `${ROOMS}
if redis.call('EXISTS', rk(ARGV[2])) == 1 then redis.call('HSET', rk(ARGV[2]), 'mig', 0) end
return 1
`;

/**
 * ARGV: P oldId newId target movingUid... The room under its new id at `target`, props, owner and
 * members carried; moving members absent until their claim; 1/7 to every member. {'ok', owner}.
 */
export const ROOM_MOVE = `${ROOMS}
local old, new, target = ARGV[2], ARGV[3], ARGV[4]
local moving = {}
for i = 5, #ARGV do moving[ARGV[i]] = true end
local fields = redis.call('HGETALL', rk(old))
if #fields == 0 then return {'not-found'} end
local from = redis.call('HGET', rk(old), 'node')
redis.call('HSET', rk(new), unpack(fields))
redis.call('HSET', rk(new), 'node', target)
redis.call('HINCRBY', rk(new), 'ver', 1)
for _, e in ipairs(members(old)) do
  if moving[e.uid] then
    e.m.p = 0
    e.m.n = target
  end
  putm(new, e.uid, e.m)
  if redis.call('GET', P .. 'uroom:' .. e.uid) == old then redis.call('SET', P .. 'uroom:' .. e.uid, new) end
end
redis.call('SREM', P .. 'nrooms:' .. from, old)
redis.call('SADD', P .. 'nrooms:' .. target, new)
redis.call('SREM', P .. 'rooms', old)
redis.call('SADD', P .. 'rooms', new)
redis.call('DEL', rk(old), mk(old))
local owner = redis.call('HGET', rk(new), 'owner')
pushAll(new, '7', '{"oldRoomId":' .. q(old) .. ',"newRoomId":' .. q(new) .. ',"ownerId":' .. q(owner) .. '}', nil)
return {'ok', owner}
`;

/**
 * ARGV: P node. The rooms `node` holds ({roomId, owner}...), then '|', then the sids of sessions
 * on `node` whose room is held by another node.
 */
export const ROOM_NODE_OFFLINE = `${ROOMS}
local node = ARGV[2]
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', P .. 'nrooms:' .. node)) do
  local owner = redis.call('HGET', rk(id), 'owner')
  if owner then
    table.insert(out, id)
    table.insert(out, owner)
  end
end
table.insert(out, '|')
for _, sid in ipairs(redis.call('SMEMBERS', P .. 'nsess:' .. node)) do
  local uid = redis.call('HGET', P .. 'sess:' .. sid, 'uid')
  local id = uid and redis.call('GET', P .. 'uroom:' .. uid)
  if id then
    local m = getm(id, uid)
    local held = redis.call('HGET', rk(id), 'node')
    if m and m.i == sid and held and held ~= node then table.insert(out, sid) end
  end
end
return out
`;

/** ARGV: P. Every room: {describe, node, max}... */
export const ROOM_LIST = `${ROOMS}
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', P .. 'rooms')) do
  local r = redis.call('HMGET', rk(id), 'node', 'max')
  if r[1] then
    table.insert(out, describe(id))
    table.insert(out, r[1])
    table.insert(out, r[2])
  end
end
return out
`;
