package redis

import goredis "github.com/redis/go-redis/v9"

// Every change to the catalog is one of these scripts, so it is atomic:
// readers see an instance, its study/series aggregates, representatives and
// indexes change together.
//
// Keys (see Catalog.key; the Lua K* helpers below build the same names):
//
//	B = "{prefix}:"  (the braces make it a Cluster hash tag: one slot)
//	B.."i:"..sop                hash  rec, st, se, site, ts, stpart, stidx, score, separt, mods
//	B.."st:"..study             hash  rep, attrs, idx, score, n, e:<series>, m:<modality>, s:<site>
//	B.."st:"..study..":i"       zset  sop → ReceivedScore
//	B.."se:"..study..":"..series       hash  rep, attrs, n, s:<site>
//	B.."se:"..study..":"..series..":i" zset  sop → ReceivedScore
//	B.."x:date"                 zset  study → StudyScore
//	B.."x:pid:"..id / "x:acc:"..v / "x:mod:"..m / "x:site:"..s   set of studies
//	B.."x:pn"                   zset  (score 0) PNTokens(PatientName).."\0"..study, for ZRANGEBYLEX
//
// The keys a script touches beyond KEYS are derived from ARGV[1] (B) and
// from the stored instance; all share B's hash tag, so the scripts are
// valid on Redis Cluster as well as on a single server.
//
// An instance's "stidx" is the JSON list of index entries its study would
// have if it were the representative: ["s", setKey] (SADD study) or
// ["z", zsetKey, member] (ZADD 0 member). The study's "idx" holds the list
// currently applied, so a change of representative removes exactly what
// the old one added.
const luaPrelude = `
local B = ARGV[1]
local function apply(idx, study, add)
  if not idx then return end
  local ok, list = pcall(cjson.decode, idx)
  if not ok or type(list) ~= 'table' then return end
  for _, t in ipairs(list) do
    if t[1] == 's' then
      if add then redis.call('SADD', t[2], study) else redis.call('SREM', t[2], study) end
    elseif t[1] == 'z' then
      if add then redis.call('ZADD', t[2], 0, t[3]) else redis.call('ZREM', t[2], t[3]) end
    end
  end
end
local function refresh_study(study)
  local sk = B .. 'st:' .. study
  apply(redis.call('HGET', sk, 'idx'), study, false)
  local top = redis.call('ZREVRANGE', sk .. ':i', 0, 0)
  if #top == 0 then
    redis.call('DEL', sk)
    redis.call('ZREM', B .. 'x:date', study)
    return
  end
  local v = redis.call('HMGET', B .. 'i:' .. top[1], 'stpart', 'stidx', 'score')
  apply(v[2], study, true)
  redis.call('HSET', sk, 'rep', top[1], 'attrs', v[1], 'idx', v[2], 'score', v[3])
  redis.call('ZADD', B .. 'x:date', v[3], study)
end
local function refresh_series(study, series)
  local ek = B .. 'se:' .. study .. ':' .. series
  local top = redis.call('ZREVRANGE', ek .. ':i', 0, 0)
  if #top == 0 then
    redis.call('DEL', ek)
    return
  end
  redis.call('HSET', ek, 'rep', top[1], 'attrs', redis.call('HGET', B .. 'i:' .. top[1], 'separt'))
end
local function dec(key, field)
  if redis.call('HINCRBY', key, field, -1) <= 0 then
    redis.call('HDEL', key, field)
    return true
  end
  return false
end
local function remove(sop)
  local ik = B .. 'i:' .. sop
  local v = redis.call('HMGET', ik, 'st', 'se', 'site', 'mods')
  if not v[1] then return 0 end
  local study, series, site = v[1], v[2], v[3]
  local sk = B .. 'st:' .. study
  local ek = B .. 'se:' .. study .. ':' .. series
  redis.call('ZREM', sk .. ':i', sop)
  redis.call('ZREM', ek .. ':i', sop)
  dec(sk, 'n')
  dec(ek, 'n')
  dec(sk, 'e:' .. series)
  for _, m in ipairs(cjson.decode(v[4])) do
    if dec(sk, 'm:' .. m) then redis.call('SREM', B .. 'x:mod:' .. m, study) end
  end
  if dec(sk, 's:' .. site) then redis.call('SREM', B .. 'x:site:' .. site, study) end
  dec(ek, 's:' .. site)
  redis.call('DEL', ik)
  refresh_study(study)
  refresh_series(study, series)
  return 1
end
`

// putScript indexes one instance, replacing any earlier version of it.
//
//	KEYS[1] = B.."i:"..sop   KEYS[2] = B.."x:date"
//	ARGV    = B, sop, study, series, site, ReceivedScore, record JSON,
//	          StudyPart JSON, stidx JSON, StudyScore, SeriesPart JSON,
//	          modalities JSON (array of strings)
//	returns 1
var putScript = goredis.NewScript(luaPrelude + `
local sop, study, series, site, ts = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
remove(sop)
redis.call('HSET', KEYS[1], 'rec', ARGV[7], 'st', study, 'se', series, 'site', site, 'ts', ts,
  'stpart', ARGV[8], 'stidx', ARGV[9], 'score', ARGV[10], 'separt', ARGV[11], 'mods', ARGV[12])
local sk = B .. 'st:' .. study
local ek = B .. 'se:' .. study .. ':' .. series
redis.call('ZADD', sk .. ':i', ts, sop)
redis.call('ZADD', ek .. ':i', ts, sop)
redis.call('HINCRBY', sk, 'n', 1)
redis.call('HINCRBY', ek, 'n', 1)
redis.call('HINCRBY', sk, 'e:' .. series, 1)
for _, m in ipairs(cjson.decode(ARGV[12])) do
  if redis.call('HINCRBY', sk, 'm:' .. m, 1) == 1 then redis.call('SADD', B .. 'x:mod:' .. m, study) end
end
if redis.call('HINCRBY', sk, 's:' .. site, 1) == 1 then redis.call('SADD', B .. 'x:site:' .. site, study) end
redis.call('HINCRBY', ek, 's:' .. site, 1)
refresh_study(study)
refresh_series(study, series)
return 1
`)

// deleteScript removes one instance.
//
//	KEYS[1] = B.."i:"..sop   ARGV = B, sop
//	returns 1 if it existed, 0 otherwise
var deleteScript = goredis.NewScript(luaPrelude + `
return remove(ARGV[2])
`)

// recordsScript returns the record JSON of every instance of a study or
// series zset, in one round trip (read-only).
//
//	KEYS[1] = the zset (B.."st:"..study..":i" or B.."se:"..study..":"..series..":i")
//	ARGV    = B
//	returns an array of record JSON strings
var recordsScript = goredis.NewScript(`
local out = {}
for _, sop in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local r = redis.call('HGET', ARGV[1] .. 'i:' .. sop, 'rec')
  if r then out[#out + 1] = r end
end
return out
`)
