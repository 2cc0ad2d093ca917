package redis

import goredis "github.com/redis/go-redis/v9"

// Every script runs with
//
//	KEYS[1] = the key base "{prefix}:" (Queue.key()); every other key is
//	          built inside the script as KEYS[1]..kind..":"..id, mirroring
//	          Queue.key, and shares the hash tag, so all keys live in one
//	          Cluster slot.
//	ARGV[1] = outbox limit (0: no object store, no outbox)
//	ARGV[2] = lease in milliseconds
//	ARGV[3…] = per script, documented above each one.
//
// Keys (below the base):
//
//	t:{id}          hash: id doc key group stage state prio due created
//	                assignee reader token lexp flags ver site
//	h:{id}          list: the task's events (JSON), oldest first
//	q:{group}:{stage} zset: queued task ids, score = Score(prio, due)
//	leases          zset: claimed task ids, score = lease expiry (ms, Redis TIME)
//	open / all      zset: open / all task ids, score = created (ms)
//	keys            hash: dedupe key (kind:ref) -> task id
//	seq             string: event sequence counter
//	outbox          stream: events not yet written to object storage
//	events          pub/sub channel: every event, for every replica (a
//	                message is one event, or a claim batch's events one per
//	                line)
//
// Errors are returned as error replies "WL_<KIND> detail" and translated by
// scriptErr: WL_NOTFOUND, WL_EMPTY, WL_CLAIMED, WL_CONFLICT, WL_EXPIRED,
// WL_FORBIDDEN, WL_FULL. Successful scripts return the task's hash as a flat
// field/value array (upsert: {created 0|1, fields}; expire: a count).
//
// Time: NOW is Redis TIME in milliseconds, read inside the script; no
// replica clock is ever used for a lease.
// core starts every script: the key base, limits, Redis time, the outbox
// check and the event JSON builder.
const core = `
local P = KEYS[1]
local OBMAX = tonumber(ARGV[1])
local LEASE = tonumber(ARGV[2])
local tm = redis.call('TIME')
local NOW = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local PN = {[0] = 'routine', 'urgent', 'stat', 'critical'}

if OBMAX > 0 and redis.call('XLEN', P .. 'outbox') >= OBMAX then
  return redis.error_reply('WL_FULL event outbox full (object storage down?)')
end

-- jstr quotes s as a JSON string; cjson only when s needs escaping (rare:
-- ids, groups, sites and user ids are plain), as cjson costs microseconds.
local function jstr(s)
  if s == '' then return '""' end
  if string.find(s, '[%c"\\]') then return cjson.encode(s) end
  return '"' .. s .. '"'
end
-- evjson is the event for h's state after a change, without the closing
-- brace (the caller may append the doc). Numbers are the hash's integer
-- strings, written only by these scripts and Rebuild.
local function evjson(seq, h, typ, actor, note)
  return '{"seq":' .. seq .. ',"at":' .. NOW .. ',"task":"' .. h.id .. '","type":"' .. typ ..
    '","actor":' .. jstr(actor) .. ',"note":' .. jstr(note) .. ',"group":' .. jstr(h.group) ..
    ',"site":' .. jstr(h.site) .. ',"stage":"' .. h.stage .. '","state":"' .. h.state ..
    '","priority":"' .. PN[tonumber(h.prio)] .. '","due":' .. h.due .. ',"created":' .. h.created ..
    ',"assignee":' .. jstr(h.assignee) .. ',"reader":' .. jstr(h.reader) .. ',"token":' .. jstr(h.token) ..
    ',"lease_expires":' .. h.lexp .. ',"flags":' .. jstr(h.flags) .. ',"version":' .. h.ver
end
`

// helpers are the task operations of the cold scripts; the claim script
// creates them only when a lease has to be expired (creating a dozen
// closures on every claim is measurable).
const helpers = `
local function load(id)
  local raw = redis.call('HGETALL', P .. 't:' .. id)
  if #raw == 0 then return nil end
  local h = {}
  for i = 1, #raw, 2 do h[raw[i]] = raw[i + 1] end
  return h
end
local function flat(h)
  local out = {}
  for k, v in pairs(h) do out[#out + 1] = k; out[#out + 1] = v end
  return out
end
local function score(h) return (3 - tonumber(h.prio)) * 10000000000000 + tonumber(h.due) end
local function qkey(h) return P .. 'q:' .. h.group .. ':' .. h.stage end
local function save(h, fields)
  local args = {}
  for _, f in ipairs(fields) do args[#args + 1] = f; args[#args + 1] = h[f] end
  redis.call('HSET', P .. 't:' .. h.id, unpack(args))
end
local function hasflag(h, f) return string.find(',' .. h.flags .. ',', ',' .. f .. ',', 1, true) ~= nil end
local function inlist(list, v) return string.find('\n' .. list .. '\n', '\n' .. v .. '\n', 1, true) ~= nil end
local function emit(h, typ, actor, note, withdoc)
  h.ver = tostring(tonumber(h.ver) + 1)
  redis.call('HSET', P .. 't:' .. h.id, 'ver', h.ver)
  local js = evjson(redis.call('INCR', P .. 'seq'), h, typ, actor, note)
  if withdoc then js = js .. ',"doc":' .. h.doc .. '}' else js = js .. '}' end
  redis.call('RPUSH', P .. 'h:' .. h.id, js)
  if OBMAX > 0 then redis.call('XADD', P .. 'outbox', '*', 'e', js) end
  redis.call('PUBLISH', P .. 'events', js)
end
local function requeue(h, typ, actor, note)
  redis.call('ZREM', P .. 'leases', h.id)
  h.state = 'queued'; h.assignee = ''; h.token = ''; h.lexp = '0'
  save(h, {'state', 'assignee', 'token', 'lexp'})
  redis.call('ZADD', qkey(h), score(h), h.id)
  emit(h, typ, actor, note, false)
end
local function expire_due(limit)
  local ids = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', NOW, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    local h = load(id)
    if h and h.state == 'claimed' then
      requeue(h, 'expired', 'system', 'lease of ' .. h.assignee .. ' expired')
    else
      redis.call('ZREM', P .. 'leases', id)
    end
  end
  return #ids
end
local function claim(h, actor, token)
  redis.call('ZREM', qkey(h), h.id)
  h.state = 'claimed'; h.assignee = actor; h.token = token; h.lexp = tostring(NOW + LEASE)
  save(h, {'state', 'assignee', 'token', 'lexp'})
  redis.call('ZADD', P .. 'leases', NOW + LEASE, h.id)
  emit(h, 'claimed', actor, '', false)
  return flat(h)
end
-- held checks that token holds the live lease of id for actor.
local function held(id, token, actor, admin)
  local h = load(id)
  if not h then return nil, redis.error_reply('WL_NOTFOUND') end
  if h.state == 'done' or h.state == 'cancelled' then return nil, redis.error_reply('WL_CONFLICT ' .. h.state) end
  if h.state ~= 'claimed' or token == '' or h.token ~= token or tonumber(h.lexp) <= NOW then
    return nil, redis.error_reply('WL_EXPIRED')
  end
  if h.assignee ~= actor and admin ~= '1' then return nil, redis.error_reply('WL_FORBIDDEN lease held by ' .. h.assignee) end
  return h
end
`

const prelude = core + helpers

// upsert: ARGV[3]=dedupe key [4]=new id [5]=doc JSON [6]=group [7]=prio
// [8]=due ms [9]=site [10]=if absent ("1": an existing task is returned
// unchanged) [11]=actor. Returns {created, fields}.
var upsertScript = goredis.NewScript(prelude + `
local actor = ARGV[11] or 'system'
local id = redis.call('HGET', P .. 'keys', ARGV[3])
if not id then
  local h = {id = ARGV[4], doc = ARGV[5], key = ARGV[3], group = ARGV[6], stage = 'read', state = 'queued',
    prio = ARGV[7], due = ARGV[8], created = tostring(NOW), assignee = '', reader = '', token = '', lexp = '0',
    flags = '', ver = '0', site = ARGV[9]}
  save(h, {'id', 'doc', 'key', 'group', 'stage', 'state', 'prio', 'due', 'created', 'assignee', 'reader', 'token', 'lexp', 'flags', 'ver', 'site'})
  redis.call('HSET', P .. 'keys', ARGV[3], h.id)
  redis.call('ZADD', P .. 'all', NOW, h.id)
  redis.call('ZADD', P .. 'open', NOW, h.id)
  redis.call('ZADD', qkey(h), score(h), h.id)
  emit(h, 'created', actor, '', true)
  return {1, flat(h)}
end
local h = load(id)
if ARGV[10] == '1' then return {0, flat(h)} end
h.doc = ARGV[5]; h.site = ARGV[9]
if h.state == 'done' then
  if not hasflag(h, 'images_added_after_report') then
    if h.flags == '' then h.flags = 'images_added_after_report' else h.flags = h.flags .. ',images_added_after_report' end
  end
  save(h, {'doc', 'site', 'flags'})
  emit(h, 'flagged', actor, 'instances added after report', true)
  return {0, flat(h)}
end
if (h.state == 'queued' or h.state == 'claimed') and tonumber(ARGV[7]) > tonumber(h.prio) then
  h.prio = ARGV[7]
  if h.state == 'queued' then redis.call('ZADD', qkey(h), score(h), h.id) end
end
save(h, {'doc', 'site', 'prio'})
emit(h, 'updated', actor, '', true)
return {0, flat(h)}
`)

// claimNext serves a batch of ClaimNext calls on one queue (see claim.go):
// ARGV[3]=group [4]=stage [5]=n, then n pairs actor, new token
// (ARGV[4+2i], ARGV[5+2i] for the i-th call; tokens are hex, written into
// the event JSON unescaped). Each call gets the first task
// of the queue claimable by its actor and not given to an earlier call of
// the batch: a distinct task each, as if the calls had run one after the
// other. Returns {lease expiry ms, r1, …, rn}, ri = 'WL_EMPTY' or
// {id, doc, prio, due, created, reader, flags, version} of the claimed task
// (the caller knows group, stage, state, assignee and token).
//
// This is the hot path, so it reads only the fields it needs (HMGET), reads
// the queue once per batch, removes and adds the batch's ids in one ZREM and
// one ZADD, takes the batch's event numbers with one INCRBY and publishes
// the batch's events in one message (lines of JSON).
var claimNextScript = goredis.NewScript(core + `
-- (numbers passed to redis.call are formatted with printf: measurable, so
-- string literals and ARGV strings where they fit)
if #redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', NOW, 'LIMIT', '0', '1') > 0 then
` + helpers + `
  expire_due(32)
end
local group, stage, n = ARGV[3], ARGV[4], tonumber(ARGV[5])
local q = P .. 'q:' .. group .. ':' .. stage
local cand = redis.call('ZRANGE', q, '0', ARGV[5])
local more = #cand > n
local fields, taken, stale = {}, {}, {}
local claims = {}
local first = 1
local out = {NOW + LEASE}
for i = 1, n do
  local actor = ARGV[4 + 2 * i]
  local k, got = first, nil
  while true do
    if k > #cand then
      if not more then break end
      local page = redis.call('ZRANGE', q, #cand, #cand + 63)
      more = #page == 64
      if #page == 0 then break end
      for _, id in ipairs(page) do cand[#cand + 1] = id end
    end
    local id = cand[k]
    if not taken[id] then
      local f = fields[id]
      if not f then
        f = redis.call('HMGET', P .. 't:' .. id, 'assignee', 'reader', 'ver', 'prio', 'due', 'created', 'flags', 'site', 'doc')
        fields[id] = f
        if not f[3] then taken[id] = true; stale[#stale + 1] = id end
      end
      if f[3] and (f[1] == '' or f[1] == actor) and not (stage == 'sign' and f[2] == actor) then got = id; break end
    end
    k = k + 1
  end
  if got then
    taken[got] = true
    claims[#claims + 1] = {i, got}
    while cand[first] and taken[cand[first]] do first = first + 1 end
  else
    out[i + 1] = 'WL_EMPTY'
  end
end
if #stale > 0 then redis.call('ZREM', q, unpack(stale)) end
if #claims == 0 then return out end
local lexp = tostring(NOW + LEASE)
local seq
if #claims == 1 then seq = redis.call('INCR', P .. 'seq') - 1 else seq = redis.call('INCRBY', P .. 'seq', #claims) - #claims end
local rm, add, evs = {}, {}, {}
-- evjson with the batch's constants folded in (tokens are hex from Go)
local head = ',"at":' .. NOW .. ',"task":"'
local mid = '","type":"claimed","note":"","group":' .. jstr(group) .. ',"stage":"' .. stage .. '","state":"claimed","actor":'
for j, c in ipairs(claims) do
  local i, id = c[1], c[2]
  local f = fields[id]
  local actor, token = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  local ver = tostring(tonumber(f[3]) + 1)
  redis.call('HSET', P .. 't:' .. id, 'state', 'claimed', 'assignee', actor, 'token', token, 'lexp', lexp, 'ver', ver)
  local aj = jstr(actor)
  local js = '{"seq":' .. (seq + j) .. head .. id .. mid .. aj .. ',"assignee":' .. aj .. ',"site":' .. jstr(f[8]) ..
    ',"priority":"' .. PN[tonumber(f[4])] .. '","due":' .. f[5] .. ',"created":' .. f[6] .. ',"reader":' .. jstr(f[2]) ..
    ',"token":"' .. token .. '","lease_expires":' .. lexp .. ',"flags":' .. jstr(f[7]) .. ',"version":' .. ver .. '}'
  redis.call('RPUSH', P .. 'h:' .. id, js)
  if OBMAX > 0 then redis.call('XADD', P .. 'outbox', '*', 'e', js) end
  evs[j] = js
  rm[j] = id
  add[2 * j - 1] = lexp; add[2 * j] = id
  out[i + 1] = {id, f[9], f[4], f[5], f[6], f[2], f[7], ver}
end
redis.call('ZREM', q, unpack(rm))
redis.call('ZADD', P .. 'leases', unpack(add))
redis.call('PUBLISH', P .. 'events', table.concat(evs, '\n'))
return out
`)

// claimOne: ARGV[3]=actor [4]=id [5]=new token [6]=actor's groups
// ("\n"-joined) [7]=senior "1"/"0" [8]=admin "1"/"0".
var claimScript = goredis.NewScript(prelude + `
local h = load(ARGV[4])
if not h then return redis.error_reply('WL_NOTFOUND') end
local actor = ARGV[3]
if ARGV[8] ~= '1' and not inlist(ARGV[6], h.group) then return redis.error_reply('WL_FORBIDDEN not in group ' .. h.group) end
if h.stage == 'sign' and ARGV[7] ~= '1' then return redis.error_reply('WL_FORBIDDEN not a senior reader') end
if h.state == 'queued' and h.assignee ~= '' and h.assignee ~= actor then return redis.error_reply('WL_FORBIDDEN reassigned to ' .. h.assignee) end
if h.stage == 'sign' and h.reader == actor then return redis.error_reply('WL_FORBIDDEN cannot sign own report') end
if h.state == 'claimed' then
  if tonumber(h.lexp) > NOW then return redis.error_reply('WL_CLAIMED held by ' .. h.assignee) end
  requeue(h, 'expired', 'system', 'lease of ' .. h.assignee .. ' expired')
end
if h.state ~= 'queued' then return redis.error_reply('WL_CONFLICT ' .. h.state) end
return claim(h, actor, ARGV[5])
`)

// renew: ARGV[3]=actor [4]=id [5]=token [6]=admin.
var renewScript = goredis.NewScript(prelude + `
local h, err = held(ARGV[4], ARGV[5], ARGV[3], ARGV[6])
if not h then return err end
h.lexp = tostring(NOW + LEASE)
save(h, {'lexp'})
redis.call('ZADD', P .. 'leases', NOW + LEASE, h.id)
emit(h, 'renewed', ARGV[3], '', false)
return flat(h)
`)

// release: ARGV[3]=actor [4]=id [5]=token [6]=admin.
var releaseScript = goredis.NewScript(prelude + `
local h, err = held(ARGV[4], ARGV[5], ARGV[3], ARGV[6])
if not h then return err end
requeue(h, 'released', ARGV[3], '')
return flat(h)
`)

// complete: ARGV[3]=actor [4]=id [5]=token [6]=admin [7]=senior.
var completeScript = goredis.NewScript(prelude + `
local h, err = held(ARGV[4], ARGV[5], ARGV[3], ARGV[6])
if not h then return err end
local actor = ARGV[3]
if h.stage == 'sign' and (ARGV[7] ~= '1' or h.reader == actor) then
  return redis.error_reply('WL_FORBIDDEN signing needs a senior other than the reader')
end
redis.call('ZREM', P .. 'leases', h.id)
h.token = ''; h.lexp = '0'
if h.stage == 'read' and ARGV[7] ~= '1' then
  h.reader = actor; h.assignee = ''; h.stage = 'sign'; h.state = 'queued'
  save(h, {'token', 'lexp', 'reader', 'assignee', 'stage', 'state'})
  redis.call('ZADD', qkey(h), score(h), h.id)
  emit(h, 'to_sign', actor, '', false)
  return flat(h)
end
if h.stage == 'read' then h.reader = actor end
h.state = 'done'
save(h, {'token', 'lexp', 'reader', 'state'})
redis.call('ZREM', P .. 'open', h.id)
emit(h, 'completed', actor, '', false)
return flat(h)
`)

// reassign (admin checked by the caller): ARGV[3]=actor [4]=id [5]=group
// ("" keeps it) [6]=assignee.
var reassignScript = goredis.NewScript(prelude + `
local h = load(ARGV[4])
if not h then return redis.error_reply('WL_NOTFOUND') end
if h.state ~= 'queued' and h.state ~= 'claimed' then return redis.error_reply('WL_CONFLICT ' .. h.state) end
redis.call('ZREM', P .. 'leases', h.id)
redis.call('ZREM', qkey(h), h.id)
if ARGV[5] ~= '' then h.group = ARGV[5] end
h.state = 'queued'; h.assignee = ARGV[6]; h.token = ''; h.lexp = '0'
save(h, {'group', 'state', 'assignee', 'token', 'lexp'})
redis.call('ZADD', qkey(h), score(h), h.id)
emit(h, 'reassigned', ARGV[3], 'group=' .. h.group .. ' assignee=' .. ARGV[6], false)
return flat(h)
`)

// cancel: ARGV[3]=actor [4]=id [5]=reason [6]=actor's groups [7]=admin.
var cancelScript = goredis.NewScript(prelude + `
local h = load(ARGV[4])
if not h then return redis.error_reply('WL_NOTFOUND') end
if ARGV[7] ~= '1' and not inlist(ARGV[6], h.group) then return redis.error_reply('WL_FORBIDDEN not in group ' .. h.group) end
if h.state == 'cancelled' then return flat(h) end
if h.state == 'done' then return redis.error_reply('WL_CONFLICT done') end
redis.call('ZREM', P .. 'leases', h.id)
redis.call('ZREM', qkey(h), h.id)
redis.call('ZREM', P .. 'open', h.id)
h.state = 'cancelled'; h.assignee = ''; h.token = ''; h.lexp = '0'
save(h, {'state', 'assignee', 'token', 'lexp'})
emit(h, 'cancelled', ARGV[3], ARGV[5], false)
return flat(h)
`)

// escalate: ARGV[3]=id [4]=prio [5]=flag [6]=alert "1"/"0" [7]=note.
var escalateScript = goredis.NewScript(prelude + `
local h = load(ARGV[3])
if not h then return redis.error_reply('WL_NOTFOUND') end
if h.state ~= 'queued' and h.state ~= 'claimed' then return redis.error_reply('WL_CONFLICT ' .. h.state) end
local p = tonumber(ARGV[4])
if (ARGV[5] ~= '' and hasflag(h, ARGV[5])) or (ARGV[5] == '' and p <= tonumber(h.prio)) then return flat(h) end
if p > tonumber(h.prio) then h.prio = tostring(p) end
if ARGV[5] ~= '' then
  if h.flags == '' then h.flags = ARGV[5] else h.flags = h.flags .. ',' .. ARGV[5] end
end
save(h, {'prio', 'flags'})
if h.state == 'queued' then redis.call('ZADD', qkey(h), score(h), h.id) end
local typ = 'escalated'
if ARGV[6] == '1' then typ = 'alert' end
emit(h, typ, 'system', ARGV[7], false)
return flat(h)
`)

// expire: no extra ARGV. Returns how many leases expired (at most 1000
// per call; the caller repeats while it gets 1000).
var expireScript = goredis.NewScript(prelude + `
return expire_due(1000)
`)

// scriptNames label the op metrics.
var scriptNames = map[*goredis.Script]string{
	upsertScript: "upsert", claimNextScript: "claim_next", claimScript: "claim", renewScript: "renew",
	releaseScript: "release", completeScript: "complete", reassignScript: "reassign", cancelScript: "cancel",
	escalateScript: "escalate", expireScript: "expire",
}
