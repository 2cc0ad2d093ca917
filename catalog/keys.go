package catalog

import (
	"context"

	"github.com/huren-health/huren/dicomjson"
)

// KeyLister is an optional Catalog capability behind InstanceKeys: a
// backend that can list instances without materialising their attributes
// implements it. Check with InstanceKeys, not a type assertion.
type KeyLister interface {
	InstanceKeys(ctx context.Context, studyUID, seriesUID string) ([]Record, error)
}

// keyTags are the attributes InstanceKeys keeps: what the catalog order is
// made of, and the patient an access is audited against.
var keyTags = []string{TagSeriesNumber, TagInstanceNumber, TagPatientID}

// InstanceKeys lists what Instances lists, in the same order and with the
// same errors, but each record's Attrs holds only SeriesNumber,
// InstanceNumber and PatientID. It is for callers that need the identities,
// hashes, object keys and sites of many instances — series metadata
// bundles, ownership checks, counts — without paying for every attribute
// of every instance (a full copy of a 4000-slice series is tens of MB).
// The Attrs may share elements with the catalog: do not modify them.
func InstanceKeys(ctx context.Context, c Catalog, studyUID, seriesUID string) ([]Record, error) {
	if kl, ok := c.(KeyLister); ok {
		return kl.InstanceKeys(ctx, studyUID, seriesUID)
	}
	recs, err := c.Instances(ctx, studyUID, seriesUID)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		recs[i].Attrs = KeyAttrs(recs[i].Attrs)
	}
	return recs, nil
}

// KeyAttrs returns the subset of d that InstanceKeys keeps (sharing its
// elements).
func KeyAttrs(d dicomjson.Dataset) dicomjson.Dataset {
	out := make(dicomjson.Dataset, len(keyTags))
	for _, t := range keyTags {
		if e, ok := d[t]; ok {
			out[t] = e
		}
	}
	return out
}
