package redis

import (
	"context"
	"encoding/json"
	"fmt"

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

// InstanceKeys implements catalog.KeyLister: the same records and order as
// Instances, decoding only the key attributes. A study or series part shared
// by many instances is decoded once per call.
func (c *Catalog) InstanceKeys(ctx context.Context, studyUID, seriesUID string) ([]catalog.Record, error) {
	zset := c.key("st", studyUID, "i")
	if seriesUID != "" {
		zset = c.key("se", studyUID, seriesUID, "i")
	}
	raw, err := recordsScript.Run(ctx, c.rdb, []string{zset}, c.base, "z").StringSlice()
	if err != nil {
		return nil, c.fail("instance keys "+zset, err)
	}
	parts := map[string]dicomjson.Dataset{}
	decodePart := func(s string) (dicomjson.Dataset, error) {
		if d, ok := parts[s]; ok {
			return d, nil
		}
		d, err := decodeKeyAttrs([]byte(s))
		if err != nil {
			return nil, err
		}
		parts[s] = d
		return d, nil
	}
	out := make([]catalog.Record, 0, len(raw)/3)
	for i := 0; i+2 < len(raw); i += 3 {
		var sr storedRecord
		if err := json.Unmarshal([]byte(raw[i]), &sr); err != nil {
			return nil, fmt.Errorf("catalog redis: stored record: %w", err)
		}
		attrs, err := decodeKeyAttrs(sr.Attrs)
		if err != nil {
			return nil, fmt.Errorf("catalog redis: stored record %s: %w", sr.InstanceUID, err)
		}
		for _, p := range raw[i+1 : i+3] {
			d, err := decodePart(p)
			if err != nil {
				return nil, fmt.Errorf("catalog redis: stored part of %s: %w", sr.InstanceUID, err)
			}
			for t, e := range d {
				attrs[t] = e
			}
		}
		out = append(out, catalog.Record{StudyUID: sr.StudyUID, SeriesUID: sr.SeriesUID, InstanceUID: sr.InstanceUID, Site: sr.Site,
			Attrs: attrs, Size: sr.Size, SHA256: sr.SHA256, TransferSyntax: sr.TransferSyntax, ObjectKey: sr.ObjectKey,
			MetaKey: sr.MetaKey, ReceivedAt: sr.ReceivedAt})
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
	out := dicomjson.Dataset{}
	for tag, raw := range map[string]json.RawMessage{catalog.TagSeriesNumber: kf.SeriesNumber, catalog.TagInstanceNumber: kf.InstanceNumber, catalog.TagPatientID: kf.PatientID} {
		if raw == nil {
			continue
		}
		d, err := dicomjson.Decode([]byte(`{"` + tag + `":` + string(raw) + `}`))
		if err != nil {
			return nil, err
		}
		for t, e := range d {
			out[t] = e
		}
	}
	return out, nil
}
