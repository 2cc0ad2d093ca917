package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomfile"
	"github.com/huren-health/huren/dicomjson"
)

// Object keys. Every key is built here and nowhere else.
const (
	dicomPrefix = "dicom/"
	metaPrefix  = "meta/"
	// bundleName is the series metadata bundle inside meta/{study}/{series}/.
	// It cannot collide with an instance's metadata: SOP Instance UIDs are
	// digits and dots.
	bundleName = "series.json"
)

// ObjectKey is where the original bytes of an instance are stored.
func ObjectKey(study, series, sop string) string {
	return dicomPrefix + study + "/" + series + "/" + sop + ".dcm"
}

// MetaKey is where the instance's metadata object is stored.
func MetaKey(study, series, sop string) string {
	return metaPrefix + study + "/" + series + "/" + sop + ".json"
}

// BundleKey is where the precomputed metadata of a whole series is stored.
func BundleKey(study, series string) string {
	return metaPrefix + study + "/" + series + "/" + bundleName
}

// metaVersion is the format version of Meta objects.
const metaVersion = 1

// Meta is the per-instance metadata object (meta/{study}/{series}/{sop}.json):
// the source from which `reindex` rebuilds the catalog and from which WADO-RS
// metadata is served. Dataset is DICOM JSON without bulk data: bulk values
// are BulkDataURI elements holding a relative tag path ("7FE00010",
// "00540016.0.00181072") that WithBulkURIs turns into absolute URLs.
type Meta struct {
	Version        int    `json:"version"`
	StudyUID       string `json:"study_uid"`
	SeriesUID      string `json:"series_uid"`
	InstanceUID    string `json:"instance_uid"`
	SOPClassUID    string `json:"sop_class_uid"`
	TransferSyntax string `json:"transfer_syntax"`
	// Size and SHA256 (lowercase hex) of the stored original.
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	Site       string    `json:"site"`
	Via        string    `json:"via,omitempty"`
	RemoteAddr string    `json:"remote_addr,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	ObjectKey  string    `json:"object_key"`
	// Bulk locates every bulk value in the original (range reads).
	Bulk []dicomfile.BulkRef `json:"bulk,omitempty"`
	// Frames holds, per frame of the top-level Pixel Data, the byte ranges
	// of the original that make it up (nil when they cannot be located or
	// the file is deflated). FramesError says why when nil.
	Frames      [][]dicomfile.ByteRange `json:"frames,omitempty"`
	FramesError string                  `json:"frames_error,omitempty"`
	// Deflated originals cannot be range-read for bulk data.
	Deflated bool              `json:"deflated,omitempty"`
	Dataset  dicomjson.Dataset `json:"dataset"`
}

// DecodeMeta reads a Meta object, keeping numbers as json.Number.
func DecodeMeta(data []byte) (*Meta, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m Meta
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode instance metadata: %w", err)
	}
	if m.Version != metaVersion {
		return nil, fmt.Errorf("decode instance metadata: unknown version %d", m.Version)
	}
	if m.InstanceUID == "" || m.StudyUID == "" || m.SeriesUID == "" {
		return nil, fmt.Errorf("decode instance metadata: UIDs missing")
	}
	return &m, nil
}

// Record builds the catalog record of the instance.
func (m *Meta) Record() catalog.Record {
	return catalog.Record{
		StudyUID:       m.StudyUID,
		SeriesUID:      m.SeriesUID,
		InstanceUID:    m.InstanceUID,
		Site:           m.Site,
		Attrs:          indexAttrs(m.Dataset),
		Size:           m.Size,
		SHA256:         m.SHA256,
		TransferSyntax: m.TransferSyntax,
		ObjectKey:      m.ObjectKey,
		MetaKey:        MetaKey(m.StudyUID, m.SeriesUID, m.InstanceUID),
		ReceivedAt:     m.ReceivedAt,
	}
}

// maxIndexedValueBytes bounds one attribute copied into the catalog: long
// texts and private blobs are served from the metadata object, not indexed.
const maxIndexedValueBytes = 1024

// indexAttrs selects what the catalog keeps: top-level non-bulk attributes
// without sequences and without oversized values. QIDO matches and returns
// top-level attributes only; sequences and long texts stay in the metadata
// object (WADO-RS metadata serves them), which keeps Redis lean.
func indexAttrs(ds dicomjson.Dataset) dicomjson.Dataset {
	out := make(dicomjson.Dataset, len(ds))
	for tag, e := range ds {
		if e == nil || e.VR == "SQ" || e.BulkDataURI != "" || e.InlineBinary != "" {
			continue
		}
		if strings.HasPrefix(tag, "0002") {
			continue
		}
		n := 0
		for _, v := range e.Value {
			n += len(dicomjson.ValueString(v))
		}
		if n > maxIndexedValueBytes {
			continue
		}
		out[tag] = e
	}
	return out
}

// tagAvailableTransferSyntax is (0008,3002) Available Transfer Syntax UID:
// viewers read it from metadata to know how frames will come.
const tagAvailableTransferSyntax = "00083002"

// WithBulkURIs returns the dataset as served by WADO-RS metadata: bulk
// elements' relative tag paths become "{instanceURL}/bulk/{tagpath}" and
// (0008,3002) Available Transfer Syntax UID names the stored syntax. The
// stored dataset is not modified.
func (m *Meta) WithBulkURIs(instanceURL string) dicomjson.Dataset {
	ds := rewriteBulk(m.Dataset, instanceURL+"/bulk/")
	if _, ok := ds[tagAvailableTransferSyntax]; !ok && m.TransferSyntax != "" {
		ds[tagAvailableTransferSyntax] = &dicomjson.Element{VR: "UI", Value: []any{m.TransferSyntax}}
	}
	return ds
}

func rewriteBulk(ds dicomjson.Dataset, prefix string) dicomjson.Dataset {
	out := make(dicomjson.Dataset, len(ds))
	for tag, e := range ds {
		if e == nil {
			continue
		}
		switch {
		case e.BulkDataURI != "":
			out[tag] = &dicomjson.Element{VR: e.VR, BulkDataURI: prefix + e.BulkDataURI}
		case e.VR == "SQ" && len(e.Value) > 0:
			items := make([]any, len(e.Value))
			for i, it := range e.Value {
				items[i] = rewriteItem(it, prefix)
			}
			out[tag] = &dicomjson.Element{VR: e.VR, Value: items}
		default:
			out[tag] = e
		}
	}
	return out
}

// rewriteItem handles a sequence item as built by dicomfile (a Dataset) or
// as decoded from JSON (map[string]any).
func rewriteItem(it any, prefix string) any {
	switch x := it.(type) {
	case dicomjson.Dataset:
		return rewriteBulk(x, prefix)
	case map[string]any:
		out := make(map[string]any, len(x))
		for tag, v := range x {
			el, ok := v.(map[string]any)
			if !ok {
				out[tag] = v
				continue
			}
			if uri, ok := el["BulkDataURI"].(string); ok && uri != "" {
				cp := make(map[string]any, len(el))
				for k, vv := range el {
					cp[k] = vv
				}
				cp["BulkDataURI"] = prefix + uri
				out[tag] = cp
				continue
			}
			if vals, ok := el["Value"].([]any); ok && el["vr"] == "SQ" {
				cp := make(map[string]any, len(el))
				for k, vv := range el {
					cp[k] = vv
				}
				items := make([]any, len(vals))
				for i, sub := range vals {
					items[i] = rewriteItem(sub, prefix)
				}
				cp["Value"] = items
				out[tag] = cp
				continue
			}
			out[tag] = el
		}
		return out
	}
	return it
}

// FindBulk returns the bulk reference for a tag path.
func (m *Meta) FindBulk(tagPath string) (dicomfile.BulkRef, bool) {
	want := normalizeTagPath(tagPath)
	for _, b := range m.Bulk {
		if normalizeTagPath(b.TagPath) == want {
			return b, true
		}
	}
	return dicomfile.BulkRef{}, false
}

// normalizeTagPath accepts "7fe00010", "7FE00010", and "/" as well as "."
// separators, so that hand-typed URLs work.
func normalizeTagPath(p string) string {
	p = strings.Trim(p, "/")
	p = strings.ReplaceAll(p, "/", ".")
	return strings.ToUpper(p)
}
