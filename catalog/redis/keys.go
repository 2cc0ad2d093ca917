package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
)

// keyFields are the only attributes InstanceKeys decodes (catalog.KeyAttrs):
// unknown fields are skipped by the JSON scanner without building elements,
// which is what makes listing a 4000-instance series cheap.
type keyFields struct {
	SeriesNumber   json.RawMessage `json:"00200011"`
	InstanceNumber json.RawMessage `json:"00200013"`
	PatientID      json.RawMessage `json:"00100020"`
}

// storedKeys is storedRecord with only the key attributes decoded: one
// pass of the JSON decoder, skipping every other attribute.
type storedKeys struct {
	StudyUID, SeriesUID, InstanceUID, Site string
	Attrs                                  keyFields
	Size                                   int64
	SHA256, TransferSyntax                 string
	ObjectKey, MetaKey                     string
	ReceivedAt                             time.Time
}

// keysScript is recordsScript for InstanceKeys. An instance stored with its
// key record ('k', written by Put) comes as that small JSON alone; one
// stored by an older version comes as its full record with the ids of its
// study and series parts, and the parts once each (they are shared by
// every instance of a series), not once per instance.
//
//	KEYS[1] = a study or series zset
//	ARGV    = B
//	returns {{record JSON, study part id, series part id, …}, {part id, part JSON, …}}
//	        (part ids empty for a key record)
var keysScript = goredis.NewScript(`
local B = ARGV[1]
local sops = redis.call('ZRANGE', KEYS[1], 0, -1)
local recs, parts, seen = {}, {}, {}
for _, sop in ipairs(sops) do
  local v = redis.call('HMGET', B .. 'i:' .. sop, 'rec', 'st', 'se', 'stsha', 'sesha', 'k')
  if v[6] then
    recs[#recs + 1] = v[6]
    recs[#recs + 1] = ''
    recs[#recs + 1] = ''
  elseif v[1] then
    local st, se = B .. 'st:' .. v[2], B .. 'se:' .. v[2] .. ':' .. v[3]
    local ids = {st .. '\0' .. (v[4] or ''), se .. '\0' .. (v[5] or '')}
    local hk = {'p:' .. (v[4] or ''), 'p:' .. (v[5] or '')}
    local hs = {st, se}
    recs[#recs + 1] = v[1]
    for k = 1, 2 do
      recs[#recs + 1] = ids[k]
      if not seen[ids[k]] then
        seen[ids[k]] = true
        parts[#parts + 1] = ids[k]
        parts[#parts + 1] = redis.call('HGET', hs[k], hk[k]) or '{}'
      end
    end
  end
end
return {recs, parts}
`)

// InstanceKeys implements catalog.KeyLister: the same records and order as
// Instances, decoding only the key attributes, each shared study/series
// part once.
func (c *Catalog) InstanceKeys(ctx context.Context, studyUID, seriesUID string) ([]catalog.Record, error) {
	zset := c.key("st", studyUID, "i")
	if seriesUID != "" {
		zset = c.key("se", studyUID, seriesUID, "i")
	}
	res, err := keysScript.Run(ctx, c.rdb, []string{zset}, c.base).Slice()
	if err != nil {
		return nil, c.fail("instance keys "+zset, err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("catalog redis: instance keys: unexpected reply of %d elements", len(res))
	}
	recs, _ := res[0].([]any)
	rawParts, _ := res[1].([]any)
	parts := make(map[string]dicomjson.Dataset, len(rawParts)/2)
	for i := 0; i+1 < len(rawParts); i += 2 {
		id, _ := rawParts[i].(string)
		body, _ := rawParts[i+1].(string)
		d, err := decodeKeyAttrs([]byte(body))
		if err != nil {
			return nil, fmt.Errorf("catalog redis: stored part %q: %w", id, err)
		}
		parts[id] = d
	}
	out := make([]catalog.Record, 0, len(recs)/3)
	for i := 0; i+2 < len(recs); i += 3 {
		rec, _ := recs[i].(string)
		if st, _ := recs[i+1].(string); st == "" {
			// A key record: small, its Attrs are exactly the key attributes.
			r, err := decodeRecord(rec)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
			continue
		}
		var sk storedKeys
		if err := json.Unmarshal([]byte(rec), &sk); err != nil {
			return nil, fmt.Errorf("catalog redis: stored record: %w", err)
		}
		attrs, err := sk.Attrs.dataset()
		if err != nil {
			return nil, fmt.Errorf("catalog redis: stored record %s: %w", sk.InstanceUID, err)
		}
		for _, p := range recs[i+1 : i+3] {
			id, _ := p.(string)
			for t, e := range parts[id] {
				attrs[t] = e
			}
		}
		out = append(out, catalog.Record{StudyUID: sk.StudyUID, SeriesUID: sk.SeriesUID, InstanceUID: sk.InstanceUID, Site: sk.Site,
			Attrs: attrs, Size: sk.Size, SHA256: sk.SHA256, TransferSyntax: sk.TransferSyntax, ObjectKey: sk.ObjectKey,
			MetaKey: sk.MetaKey, ReceivedAt: sk.ReceivedAt})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("catalog instance keys %s %s: %w", studyUID, seriesUID, catalog.ErrNotFound)
	}
	catalog.SortRecords(out)
	return out, nil
}

// decodeKeyAttrs decodes the key attributes of a stored DICOM JSON object.
func decodeKeyAttrs(b []byte) (dicomjson.Dataset, error) {
	var kf keyFields
	if err := json.Unmarshal(b, &kf); err != nil {
		return nil, err
	}
	return kf.dataset()
}

func (kf keyFields) dataset() (dicomjson.Dataset, error) {
	out := dicomjson.Dataset{}
	for _, f := range []struct {
		tag string
		raw json.RawMessage
	}{{catalog.TagSeriesNumber, kf.SeriesNumber}, {catalog.TagInstanceNumber, kf.InstanceNumber}, {catalog.TagPatientID, kf.PatientID}} {
		if f.raw == nil {
			continue
		}
		d, err := dicomjson.Decode([]byte(`{"` + f.tag + `":` + string(f.raw) + `}`))
		if err != nil {
			return nil, err
		}
		out[f.tag] = d[f.tag]
	}
	return out, nil
}
