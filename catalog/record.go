package catalog

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/huren-health/huren/dicomjson"
)

// Normalize validates rec and returns the canonical copy every backend
// stores: UIDs checked (1–64 characters of digits, dots, letters, '-' or
// '_'), Attrs deep-copied into the shape of their JSON round trip
// (canonicalAttrs: numbers become json.Number and PN values
// map[string]any, exactly as after a Redis round trip) with upper-case
// tags, the three UID attributes set from the record's fields, and
// ReceivedAt without its monotonic reading. Backends call it in Put; the
// caller's Record is never retained or modified.
func Normalize(rec Record) (Record, error) {
	for _, u := range [][2]string{{"StudyUID", rec.StudyUID}, {"SeriesUID", rec.SeriesUID}, {"InstanceUID", rec.InstanceUID}} {
		if !validUID(u[1]) {
			return Record{}, fmt.Errorf("%w: %s %q is not a valid UID", ErrInvalidRecord, u[0], u[1])
		}
	}
	if len(rec.Site) > 128 || strings.IndexFunc(rec.Site, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) >= 0 {
		return Record{}, fmt.Errorf("%w: site %q", ErrInvalidRecord, rec.Site)
	}
	attrs, err := canonicalAttrs(rec.Attrs)
	if err != nil {
		return Record{}, fmt.Errorf("%w: attrs of %s: %v", ErrInvalidRecord, rec.InstanceUID, err)
	}
	out := make(dicomjson.Dataset, len(attrs)+3)
	for tag, e := range attrs {
		if !IsTag(tag) {
			return Record{}, fmt.Errorf("%w: attrs of %s: key %q is not an 8-hex tag", ErrInvalidRecord, rec.InstanceUID, tag)
		}
		if e != nil {
			out[strings.ToUpper(tag)] = e
		}
	}
	for _, u := range [][2]string{{TagStudyInstanceUID, rec.StudyUID}, {TagSeriesInstanceUID, rec.SeriesUID}, {TagSOPInstanceUID, rec.InstanceUID}} {
		if have := strings.TrimRight(out.String(u[0]), " \x00"); have != "" && have != u[1] {
			return Record{}, fmt.Errorf("%w: attribute %s is %q but the record says %q", ErrInvalidRecord, u[0], have, u[1])
		}
		out.Set(u[0], "UI", u[1])
	}
	rec.Attrs = out
	rec.ReceivedAt = rec.ReceivedAt.Round(0)
	return rec, nil
}

// part returns the attributes of attrs that live at level l.
func part(attrs dicomjson.Dataset, l levelMask) dicomjson.Dataset {
	out := dicomjson.Dataset{}
	for tag, e := range attrs {
		if levelOf(tag)&l != 0 && !computed[tag] {
			out[tag] = e
		}
	}
	return out
}

// computed tags are produced by the catalog, never taken from a record.
var computed = map[string]bool{
	TagModalitiesInStudy: true, TagNumberOfStudyRelatedSeries: true, TagNumberOfStudyRelatedInstances: true,
	TagNumberOfSeriesRelatedInstances: true, TagInstanceAvailability: true,
}

// StudyPart is the study-level (patient and study) part of a normalised
// record: what the study summary shows when this record is the study's
// representative.
func StudyPart(rec Record) dicomjson.Dataset { return part(rec.Attrs, atStudy) }

// SeriesPart is the series-level part of a normalised record.
func SeriesPart(rec Record) dicomjson.Dataset { return part(rec.Attrs, atSeries) }

// Modalities returns the distinct non-empty Modality values of a record.
func Modalities(rec Record) []string {
	var out []string
	for _, m := range rec.Attrs.Strings(TagModality) {
		m = strings.TrimSpace(m)
		if m != "" && !contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ReceivedScore is the representative-selection key of a record: ReceivedAt
// in Unix microseconds, clamped to [0, 2^53] so it is exact as a Redis score.
// The representative of a study or series is its record with the highest
// (ReceivedScore, InstanceUID), so the answer does not depend on the order
// in which records were Put (reindex replays them in storage order).
func ReceivedScore(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	us := t.UnixMicro()
	return min(max(us, 0), 1<<53)
}

// StudyScore is the ordering key of a study: StudyDate and StudyTime of its
// representative as the number YYYYMMDDHHMMSS, or 0 when StudyDate is absent
// or not a valid date (such studies sort last and never match a date key).
func StudyScore(studyAttrs dicomjson.Dataset) int64 {
	d, err := normBound(kindDate, strings.TrimSpace(studyAttrs.String(TagStudyDate)), false)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(d, 10, 64)
	score := n * 1_000_000
	if t, err := normTime(strings.TrimSpace(studyAttrs.String(TagStudyTime)), false); err == nil {
		hms, _ := strconv.ParseInt(t[:6], 10, 64)
		score += hms
	}
	return score
}

func dateScore(d string, upper bool) int64 {
	n, _ := strconv.ParseInt(d, 10, 64)
	if upper {
		return n*1_000_000 + 999_999
	}
	return n * 1_000_000
}

// StudyBefore is the canonical study order: StudyScore descending (latest
// first, undated last), then StudyInstanceUID descending byte-wise — the
// order of a Redis ZREVRANGE over the date index.
func StudyBefore(aScore int64, aUID string, bScore int64, bUID string) bool {
	if aScore != bScore {
		return aScore > bScore
	}
	return aUID > bUID
}

// StudyDataset builds the study-level dataset (matched and returned at
// every level) from the representative's StudyPart and the aggregates.
func StudyDataset(studyPart dicomjson.Dataset, nSeries, nInstances int, modalities []string) dicomjson.Dataset {
	d := studyPart.Clone()
	mods := append([]string(nil), modalities...)
	sort.Strings(mods)
	if len(mods) > 0 {
		vals := make([]any, len(mods))
		for i, m := range mods {
			vals[i] = m
		}
		d.Set(TagModalitiesInStudy, "CS", vals...)
	} else {
		d[TagModalitiesInStudy] = &dicomjson.Element{VR: "CS"}
	}
	d.Set(TagNumberOfStudyRelatedSeries, "IS", int64(nSeries))
	d.Set(TagNumberOfStudyRelatedInstances, "IS", int64(nInstances))
	d.Set(TagInstanceAvailability, "CS", "ONLINE")
	return d
}

// SeriesDataset builds the series-level dataset from the series
// representative's SeriesPart and its instance count.
func SeriesDataset(seriesPart dicomjson.Dataset, nInstances int) dicomjson.Dataset {
	d := seriesPart.Clone()
	d.Set(TagNumberOfSeriesRelatedInstances, "IS", int64(nInstances))
	return d
}

// instanceDataset is a record's attributes plus InstanceAvailability.
func instanceDataset(rec Record) dicomjson.Dataset {
	d := rec.Attrs.Clone()
	d.Set(TagInstanceAvailability, "CS", "ONLINE")
	return d
}

// number returns the first value of tag as a number, +Inf when absent or
// not numeric (so such items sort last).
func number(d dicomjson.Dataset, tag string) float64 {
	s := strings.TrimSpace(d.String(tag))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return math.Inf(1)
	}
	return f
}

// SortSeries orders series by SeriesNumber (absent last), then
// SeriesInstanceUID.
func SortSeries(s []SeriesView) {
	sort.Slice(s, func(i, j int) bool {
		a, b := number(s[i].Attrs, TagSeriesNumber), number(s[j].Attrs, TagSeriesNumber)
		if a != b {
			return a < b
		}
		return s[i].UID < s[j].UID
	})
}

// SortRecords orders records by series (SeriesNumber, then
// SeriesInstanceUID), then InstanceNumber (absent last), then InstanceUID.
// It is the order of Catalog.Instances and of instance-level Search.
func SortRecords(recs []Record) {
	sort.Slice(recs, func(i, j int) bool {
		a, b := &recs[i], &recs[j]
		if a.SeriesUID != b.SeriesUID {
			na, nb := number(a.Attrs, TagSeriesNumber), number(b.Attrs, TagSeriesNumber)
			if na != nb {
				return na < nb
			}
			return a.SeriesUID < b.SeriesUID
		}
		na, nb := number(a.Attrs, TagInstanceNumber), number(b.Attrs, TagInstanceNumber)
		if na != nb {
			return na < nb
		}
		return a.InstanceUID < b.InstanceUID
	})
}

// IndexValues returns the distinct values of tag in d as exact-match
// indexes store them: leading/trailing spaces and NULs trimmed, empty
// values dropped. PatientID and AccessionNumber indexes use it.
func IndexValues(d dicomjson.Dataset, tag string) []string {
	var out []string
	for _, v := range d.Strings(tag) {
		v = strings.Trim(v, " \x00")
		if v != "" && !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// CopyRecord returns rec with a copy of its Attrs map and elements, so
// callers may modify what a backend returns.
func CopyRecord(rec Record) Record {
	d := make(dicomjson.Dataset, len(rec.Attrs))
	for t, e := range rec.Attrs {
		d[t] = copyElement(e)
	}
	rec.Attrs = d
	return rec
}

// InstancePart is what is left of a normalised record's Attrs after
// removing StudyPart and SeriesPart: the three partition Attrs, so a
// backend may store the parts separately (sharing identical study and
// series parts between instances) and merge them back losslessly.
func InstancePart(rec Record) dicomjson.Dataset {
	out := dicomjson.Dataset{}
	for tag, e := range rec.Attrs {
		l := levelOf(tag)
		if computed[tag] || l&(atStudy|atSeries) == 0 {
			out[tag] = e
		}
	}
	return out
}

// storedRecord is Record as encoding/json writes it, with Attrs kept raw so
// that dicomjson.Decode restores the canonical form (json.Number, PN maps).
type storedRecord struct {
	StudyUID, SeriesUID, InstanceUID, Site string
	Attrs                                  json.RawMessage
	Size                                   int64
	SHA256, TransferSyntax                 string
	ObjectKey, MetaKey                     string
	ReceivedAt                             time.Time
}

// DecodeRecord decodes a Record that backends store as json.Marshal(rec)
// (Redis and the bbolt file alike).
func DecodeRecord(b []byte) (Record, error) {
	var sr storedRecord
	if err := json.Unmarshal(b, &sr); err != nil {
		return Record{}, fmt.Errorf("stored record: %w", err)
	}
	attrs, err := dicomjson.Decode(sr.Attrs)
	if err != nil {
		return Record{}, fmt.Errorf("stored record %s: %w", sr.InstanceUID, err)
	}
	return Record{StudyUID: sr.StudyUID, SeriesUID: sr.SeriesUID, InstanceUID: sr.InstanceUID, Site: sr.Site,
		Attrs: attrs, Size: sr.Size, SHA256: sr.SHA256, TransferSyntax: sr.TransferSyntax, ObjectKey: sr.ObjectKey,
		MetaKey: sr.MetaKey, ReceivedAt: sr.ReceivedAt}, nil
}
