package redis

import goredis "github.com/redis/go-redis/v9"

// Every change to the catalog is one of these scripts, so it is atomic:
// readers see an instance, its study/series aggregates, representatives and
// indexes change together.
//
// Keys (see Catalog.key; the Lua code builds the same names from B):
//
//	B = "{prefix}:"  (the braces make it a Cluster hash tag: one slot)
//	B.."i:"..sop           hash  rec, st, se, site, ts, score, mods, stsha, sesha
//	B.."st:"..study        hash  rep, repsha, score, n, e:<series>, m:<modality>,
//	                             s:<site>, p:<sha>, c:<sha>, msv   (what a search reads)
//	B.."st:"..study..":x"  hash  idx, x:<sha>                  (index lists, never read by searches)
//	B.."st:"..study..":i"  zset  sop → ReceivedScore
//	B.."se:"..study..":"..series        hash  rep, repsha, n, s:<site>, p:<sha>, c:<sha>
//	B.."se:"..study..":"..series..":i"  zset  sop → ReceivedScore
//	B.."x:date"            zset  study → StudyScore
//	B.."x:pid:"..id / "x:acc:"..v / "x:mod:"..m / "x:site:"..s   set of studies
//	B.."x:pn"              zset  (score 0) PNTokens(PatientName).."\0"..study, for ZRANGEBYLEX
//	B.."x:pnv"             hash  study → "\x1f"-prefixed, "\x1f"-joined PNTokens(PatientName) (walk pre-filter)
//	B.."x:pnn"             hash  study → JSON array of its PatientName values (search pre-filter)
//	B.."x:pnw:"..word      zset  study → StudyScore, for each word token of PatientName
//	                             (a PNTokens token without '=', '^' or spaces)
//	B.."x:pnwd"            zset  (score 0) the words that have an x:pnw zset, for ZRANGEBYLEX
//	B.."x:ms:"..#m..":"..m..":"..s  set of the studies with modality m from site s
//	B.."x:count"           hash  words → number of studies whose index list has the
//	                             x:pnw entries; pairs → number of studies in the x:ms
//	                             sets (field msv of their st hash). Searches use those
//	                             indexes only when the count equals ZCARD x:date, i.e.
//	                             not on data indexed by older versions.
//
// An instance's "rec" holds the record with only its catalog.InstancePart;
// its StudyPart and SeriesPart are stored once per distinct content in the
// study / series hash as p:<sha> with a reference count c:<sha> (nearly all
// instances of a study share one), so Redis memory grows with the
// instance-level attributes, not with repeated patient and study data. The
// study part's index entries are x:<sha> (in the ":x" hash): a JSON list of ["s", setKey]
// (SADD study), ["z", zsetKey, member] (ZADD 0 member) and
// ["h", hashKey, value] (HSET study value), ["w", wordKey, dictKey, word]
// (ZADD StudyScore study to the word's zset and the word to the
// dictionary; on removal the word leaves the dictionary with its last
// study) and ["c", countKey, field] (HINCRBY ±1). The study's
// representative is the top of its ":i" zset (greatest ReceivedScore, ties:
// greatest sop); "idx" is the index list currently applied, so a change of
// representative removes exactly what the old one added.
//
// The keys a script touches beyond KEYS are derived from ARGV[1] (B) and
// the stored instance; all share B's hash tag, so the scripts are valid on
// Redis Cluster as well as on a single server.
const luaPrelude = `
local B = ARGV[1]
local function apply(idx, study, add, score)
  if not idx then return end
  local ok, list = pcall(cjson.decode, idx)
  if not ok or type(list) ~= 'table' then return end
  for _, t in ipairs(list) do
    if t[1] == 's' then
      if add then redis.call('SADD', t[2], study) else redis.call('SREM', t[2], study) end
    elseif t[1] == 'z' then
      if add then redis.call('ZADD', t[2], 0, t[3]) else redis.call('ZREM', t[2], t[3]) end
    elseif t[1] == 'h' then
      if add then redis.call('HSET', t[2], study, t[3]) else redis.call('HDEL', t[2], study) end
    elseif t[1] == 'w' then
      if add then
        redis.call('ZADD', t[2], score, study)
        redis.call('ZADD', t[3], 0, t[4])
      else
        redis.call('ZREM', t[2], study)
        if redis.call('EXISTS', t[2]) == 0 then redis.call('ZREM', t[3], t[4]) end
      end
    elseif t[1] == 'c' then
      if add then redis.call('HINCRBY', t[2], t[3], 1)
      elseif redis.call('HINCRBY', t[2], t[3], -1) <= 0 then redis.call('HDEL', t[2], t[3]) end
    end
  end
end
-- The names after prefix of the fields of hash key that start with it.
local function fields(key, prefix)
  local out = {}
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if string.sub(f, 1, #prefix) == prefix then out[#out + 1] = string.sub(f, #prefix + 1) end
  end
  return out
end
-- The set of the studies with modality m from site s (length-prefixed:
-- neither value is trusted not to contain ':').
local function pair_key(m, s)
  return B .. 'x:ms:' .. #m .. ':' .. m .. ':' .. s
end
local function refresh_study(study)
  local sk = B .. 'st:' .. study
  local top = redis.call('ZREVRANGE', sk .. ':i', 0, 0)
  if #top == 0 then
    apply(redis.call('HGET', sk .. ':x', 'idx'), study, false)
    if redis.call('HEXISTS', sk, 'msv') == 1 and redis.call('HINCRBY', B .. 'x:count', 'pairs', -1) <= 0 then
      redis.call('HDEL', B .. 'x:count', 'pairs')
    end
    redis.call('DEL', sk, sk .. ':x')
    redis.call('ZREM', B .. 'x:date', study)
    return
  end
  local v = redis.call('HMGET', B .. 'i:' .. top[1], 'stsha', 'score')
  if v[1] == redis.call('HGET', sk, 'repsha') then
    -- Same study part: same index entries and score (the common case
    -- while a study's instances arrive).
    redis.call('HSET', sk, 'rep', top[1])
    return
  end
  apply(redis.call('HGET', sk .. ':x', 'idx'), study, false)
  local idx = redis.call('HGET', sk .. ':x', 'x:' .. v[1])
  apply(idx, study, true, v[2])
  redis.call('HSET', sk .. ':x', 'idx', idx)
  redis.call('HSET', sk, 'rep', top[1], 'repsha', v[1], 'score', v[2])
  redis.call('ZADD', B .. 'x:date', v[2], study)
end
local function refresh_series(study, series)
  local ek = B .. 'se:' .. study .. ':' .. series
  local top = redis.call('ZREVRANGE', ek .. ':i', 0, 0)
  if #top == 0 then
    redis.call('DEL', ek)
    return
  end
  redis.call('HSET', ek, 'rep', top[1], 'repsha', redis.call('HGET', B .. 'i:' .. top[1], 'sesha'))
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
  local v = redis.call('HMGET', ik, 'st', 'se', 'site', 'mods', 'stsha', 'sesha')
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
    if dec(sk, 'm:' .. m) then
      redis.call('SREM', B .. 'x:mod:' .. m, study)
      for _, s in ipairs(fields(sk, 's:')) do redis.call('SREM', pair_key(m, s), study) end
    end
  end
  if dec(sk, 's:' .. site) then
    redis.call('SREM', B .. 'x:site:' .. site, study)
    for _, m in ipairs(fields(sk, 'm:')) do redis.call('SREM', pair_key(m, site), study) end
  end
  dec(ek, 's:' .. site)
  if dec(sk, 'c:' .. v[5]) then
    redis.call('HDEL', sk, 'p:' .. v[5])
    redis.call('HDEL', sk .. ':x', 'x:' .. v[5])
  end
  if dec(ek, 'c:' .. v[6]) then redis.call('HDEL', ek, 'p:' .. v[6]) end
  redis.call('DEL', ik)
  refresh_study(study)
  refresh_series(study, series)
  return 1
end
`

// putScript indexes one instance, replacing any earlier version of it.
//
//	KEYS[1] = B.."i:"..sop   KEYS[2] = B.."x:date"
//	ARGV    = B, sop, study, series, site, ReceivedScore, record JSON
//	          (InstancePart only), StudyPart sha, StudyPart JSON, index list
//	          JSON, StudyScore, SeriesPart sha, SeriesPart JSON,
//	          modalities JSON (array of strings), "1" to maintain the
//	          modality+site pair sets (x:ms), key record JSON (the record
//	          with catalog.KeyAttrs only, read by InstanceKeys)
//	returns 1
var putScript = goredis.NewScript(luaPrelude + `
local sop, study, series, site, ts = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local stsha, sesha = ARGV[8], ARGV[12]
remove(sop)
redis.call('HSET', KEYS[1], 'rec', ARGV[7], 'st', study, 'se', series, 'site', site, 'ts', ts,
  'score', ARGV[11], 'mods', ARGV[14], 'stsha', stsha, 'sesha', sesha)
if ARGV[16] and ARGV[16] ~= '' then redis.call('HSET', KEYS[1], 'k', ARGV[16]) end
local sk = B .. 'st:' .. study
local ek = B .. 'se:' .. study .. ':' .. series
if redis.call('HINCRBY', sk, 'c:' .. stsha, 1) == 1 then
  redis.call('HSET', sk, 'p:' .. stsha, ARGV[9])
  redis.call('HSET', sk .. ':x', 'x:' .. stsha, ARGV[10])
end
if redis.call('HINCRBY', ek, 'c:' .. sesha, 1) == 1 then
  redis.call('HSET', ek, 'p:' .. sesha, ARGV[13])
end
redis.call('ZADD', sk .. ':i', ts, sop)
redis.call('ZADD', ek .. ':i', ts, sop)
redis.call('HINCRBY', sk, 'n', 1)
redis.call('HINCRBY', ek, 'n', 1)
redis.call('HINCRBY', sk, 'e:' .. series, 1)
local keep_pairs = ARGV[15] == '1'
for _, m in ipairs(cjson.decode(ARGV[14])) do
  if redis.call('HINCRBY', sk, 'm:' .. m, 1) == 1 then
    redis.call('SADD', B .. 'x:mod:' .. m, study)
    if keep_pairs then
      for _, s in ipairs(fields(sk, 's:')) do redis.call('SADD', pair_key(m, s), study) end
    end
  end
end
if redis.call('HINCRBY', sk, 's:' .. site, 1) == 1 then
  redis.call('SADD', B .. 'x:site:' .. site, study)
  if keep_pairs then
    for _, m in ipairs(fields(sk, 'm:')) do redis.call('SADD', pair_key(m, site), study) end
  end
end
redis.call('HINCRBY', ek, 's:' .. site, 1)
if keep_pairs and redis.call('HEXISTS', sk, 'msv') == 0 then
  -- A study indexed before the pair sets existed (or a new one): add all
  -- its pairs, and count it as covered.
  local sites = fields(sk, 's:')
  for _, m in ipairs(fields(sk, 'm:')) do
    for _, s in ipairs(sites) do redis.call('SADD', pair_key(m, s), study) end
  end
  redis.call('HSET', sk, 'msv', 1)
  redis.call('HINCRBY', B .. 'x:count', 'pairs', 1)
end
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

// recordsScript returns, in one round trip (read-only), the stored record
// of instances with their study and series parts:
//
//	KEYS[1] = a study or series zset (B.."st:"..study..":i",
//	          B.."se:"..study..":"..series..":i") when ARGV[2] == "z",
//	          or the instance key B.."i:"..sop when ARGV[2] == "i"
//	ARGV    = B, mode, [sop]
//	returns a flat array: record JSON, StudyPart JSON, SeriesPart JSON, …
var recordsScript = goredis.NewScript(`
local B = ARGV[1]
local sops
if ARGV[2] == 'z' then sops = redis.call('ZRANGE', KEYS[1], 0, -1) else sops = {ARGV[3]} end
local out = {}
for _, sop in ipairs(sops) do
  local v = redis.call('HMGET', B .. 'i:' .. sop, 'rec', 'st', 'se', 'stsha', 'sesha')
  if v[1] then
    out[#out + 1] = v[1]
    out[#out + 1] = redis.call('HGET', B .. 'st:' .. v[2], 'p:' .. v[4]) or '{}'
    out[#out + 1] = redis.call('HGET', B .. 'se:' .. v[2] .. ':' .. v[3], 'p:' .. v[5]) or '{}'
  end
end
return out
`)

// walkScript walks the date index in canonical order (ZREVRANGE by rank)
// from an offset and returns the studies that are members of at least one
// set of every group and, if a name prefix is given, have a PatientName
// token starting with it, testing inside Redis so that UIDs of
// non-matching studies never cross the network. It stops after "want"
// matches or "maxscan" index entries, so one call blocks Redis briefly.
//
//	KEYS[1] = B.."x:date"
//	ARGV    = min score, max score, offset, want, maxscan, x:pnv key, name
//	          prefix ("" for none), number of groups, entries of the first
//	          batch (later ones double, up to 2000), then per group: number
//	          of set keys, the set keys
//	returns {next offset, 1 if the index is exhausted else 0, uid…}
var walkScript = goredis.NewScript(`
local lo, hi = ARGV[1], ARGV[2]
local off, want, maxscan = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local pnkey, prefix = ARGV[6], '\31' .. ARGV[7]
local batch = math.max(1, tonumber(ARGV[9]))
local groups, i = {}, 10
for g = 1, tonumber(ARGV[8]) do
  local n, keys = tonumber(ARGV[i]), {}
  for j = 1, n do keys[j] = ARGV[i + j] end
  groups[g] = keys
  i = i + n + 1
end
-- Walk by rank: ZREVRANGEBYSCORE with LIMIT steps over its offset one
-- entry at a time, so deep walks would be quadratic; ZREVRANGE by rank
-- finds its start in O(log N). first and last are the ranks of the range.
local first, last = 0, redis.call('ZCARD', KEYS[1]) - 1
if hi ~= '+inf' then first = redis.call('ZCOUNT', KEYS[1], '(' .. hi, '+inf') end
if lo ~= '-inf' then last = redis.call('ZCOUNT', KEYS[1], lo, '+inf') - 1 end
-- Each batch of index entries is tested with one HMGET (name) and one
-- SMISMEMBER per set key, on the entries still in the running: a
-- redis.call per entry would cost more than the test itself.
local out, scanned, done = {}, 0, 0
while #out < want and scanned < maxscan do
  local n = math.min(batch, maxscan - scanned)
  batch = math.min(batch * 2, 4000)
  local from = first + off + scanned
  local ids = {}
  if from <= last then ids = redis.call('ZREVRANGE', KEYS[1], from, math.min(from + n - 1, last)) end
  local cand = {}
  for j = 1, #ids do cand[j] = j end
  if #prefix > 1 and #cand > 0 then
    local vs = redis.call('HMGET', pnkey, unpack(ids))
    local keep = {}
    for _, j in ipairs(cand) do
      local v = vs[j]
      if v and string.find(v, prefix, 1, true) then keep[#keep + 1] = j end
    end
    cand = keep
  end
  for _, keys in ipairs(groups) do
    if #cand == 0 then break end
    local args, hit = {}, {}
    for x, j in ipairs(cand) do args[x] = ids[j] end
    for _, k in ipairs(keys) do
      local r = redis.call('SMISMEMBER', k, unpack(args))
      for x = 1, #cand do
        if r[x] == 1 then hit[x] = true end
      end
    end
    local keep = {}
    for x, j in ipairs(cand) do
      if hit[x] then keep[#keep + 1] = j end
    end
    cand = keep
  end
  local stopped = false
  for _, j in ipairs(cand) do
    out[#out + 1] = ids[j]
    if #out >= want then
      scanned = scanned + j
      stopped = true
      break
    end
  end
  if not stopped then
    scanned = scanned + #ids
    if #ids < n then done = 1 break end
  end
end
local res = {off + scanned, done}
for _, id in ipairs(out) do res[#res + 1] = id end
return res
`)
