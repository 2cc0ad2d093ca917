package catalog

import (
	"context"
	"time"

	"github.com/huren-health/huren/dicomjson"
	"github.com/huren-health/huren/errkind"
)

var (
	// ErrNotFound: no such study/series/instance (or not visible in the
	// query's site scope — indistinguishable on purpose).
	ErrNotFound = errkind.New(errkind.NotFound, "catalog: not found")
	// ErrInvalidQuery: a malformed matching value, unknown attribute, bad
	// limit/offset or range.
	ErrInvalidQuery = errkind.New(errkind.Invalid, "catalog: invalid query")
	// ErrUnavailable: the backend (Redis) cannot be reached.
	ErrUnavailable = errkind.New(errkind.Unavailable, "catalog: backend unavailable")
	// ErrInvalidRecord: Put was given a record with a missing or malformed
	// UID, a malformed site, attribute keys that are not tags, or UID
	// attributes that contradict the record's UID fields.
	ErrInvalidRecord = errkind.New(errkind.Invalid, "catalog: invalid record")
)

// Level is a QIDO query/retrieve level.
type Level int

const (
	StudyLevel Level = iota + 1
	SeriesLevel
	InstanceLevel
)

// Record is one indexed instance.
type Record struct {
	StudyUID    string
	SeriesUID   string
	InstanceUID string // SOP Instance UID; globally unique
	// Site is the id of the site that sent the instance (access scoping).
	Site string
	// Attrs carries every top-level attribute of the instance except bulk
	// data (Pixel Data, Waveform Data, overlays, anything ingest would store
	// as a BulkDataURI), decoded to Unicode (PN as dicomjson.PersonName or
	// its JSON map form, numbers as int64/float64/json.Number) — i.e. the
	// instance's stored metadata JSON minus bulk data. Sequences may be
	// included (they are returned for includefield/all, never matched).
	// Keys are 8-hex tags. The catalog derives everything from it:
	//   - study level (patient + study modules, e.g. PatientName, PatientID,
	//     StudyDate, AccessionNumber, StudyDescription): taken from the
	//     study's representative, its record with the latest ReceivedAt
	//     (ties: greatest InstanceUID) — so a corrected re-send wins and the
	//     result does not depend on Put order;
	//   - series level (Modality, SeriesNumber, SeriesDescription, PPS
	//     start date/time, …): from the series' representative, same rule;
	//   - instance level: everything else, from the record itself.
	// StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID are set from
	// the UID fields (a contradicting value is ErrInvalidRecord). Attributes
	// missing here cannot be matched or returned by QIDO.
	Attrs dicomjson.Dataset
	// Size and SHA256 of the stored original, its transfer syntax, and the
	// storage keys of the original and of the metadata JSON.
	Size           int64
	SHA256         string
	TransferSyntax string
	ObjectKey      string
	MetaKey        string
	ReceivedAt     time.Time
}

// Match is one attribute filter from a QIDO query: Tag is the 8-hex tag
// ("00100010") or a keyword the catalog knows ("PatientName"), Value the raw
// query value: "" (universal: no filter, attribute returned), a single value,
// wildcards * and ? (text and PN; '?' is one character), a range "a-b",
// "a-", "-b" (DA, TM, DT), or a list of alternatives separated by '\' (and
// by ',' for UI and CS, e.g. UID lists "u1,u2" and ModalitiesInStudy
// "CT,MR"). PN matching is case-insensitive and matches any group, any
// component or any word of a name (see PNTokens); all other text matching
// is case-sensitive (PS3.4 C.2.2.2). Several Matches are ANDed.
type Match struct {
	Tag   string
	Value string
}

// Query is a QIDO search.
type Query struct {
	Level Level
	// StudyUID / SeriesUID scope the search when given by the URL
	// (/studies/{s}/series, /studies/{s}/series/{se}/instances).
	StudyUID  string
	SeriesUID string
	Matches   []Match
	// IncludeFields lists extra tags to return; IncludeAll returns every
	// attribute the record holds at that level.
	IncludeFields []string
	IncludeAll    bool
	// Limit 0 means DefaultLimit; values above MaxLimit are reduced to it.
	// Offset skips results. Negative values are ErrInvalidQuery.
	Limit  int
	Offset int
	// FuzzyMatching makes a PN key without wildcards a case-insensitive
	// prefix match on any name token ("zha" matches "Zhang^San").
	FuzzyMatching bool
	// Sites, when non-nil, restricts results to records from these sites
	// (empty non-nil: nothing is visible). A study (series) is visible when
	// one of these sites sent at least one of its instances; an instance
	// when one of them sent it. Applied before paging, so Offset/Limit
	// count only visible items. Aggregates (NumberOfStudyRelated…,
	// ModalitiesInStudy) of a visible study count all its instances.
	Sites []string
}

// Catalog indexes instances. Implementations must be safe for concurrent use
// by many goroutines and (Redis) by many replicas.
type Catalog interface {
	// Put indexes rec (see Normalize for validation: ErrInvalidRecord),
	// replacing any record with the same InstanceUID, even one filed under
	// another study or series (idempotent). It is atomic: aggregates,
	// representatives and indexes change together, so no reader sees a
	// half-applied Put. Study- and series-level aggregates (ModalitiesInStudy,
	// NumberOfStudyRelatedSeries/Instances, NumberOfSeriesRelatedInstances…)
	// reflect the change as soon as Put returns.
	Put(ctx context.Context, rec Record) error
	// Instance returns the record of an instance UID, ErrNotFound if absent.
	// Returned records are the caller's; their Attrs are in Normalize's
	// canonical form (json.Number numbers, PN as map[string]any). Neither
	// Instance nor Instances applies a site scope: callers check
	// Record.Site against the requester's access.
	Instance(ctx context.Context, instanceUID string) (Record, error)
	// Instances lists the records of a study (seriesUID == "") or a series,
	// ordered as SortRecords: by series (SeriesNumber, SeriesInstanceUID),
	// then InstanceNumber, then InstanceUID.
	// ErrNotFound when the study/series has no instances.
	Instances(ctx context.Context, studyUID, seriesUID string) ([]Record, error)
	// Search answers a QIDO query with one DICOM JSON object per matching
	// study, series or instance. Each carries the attributes PS3.18 (2023)
	// tables 10.6.3-3/-4/-5 require at that level (when present), the
	// attributes of the enclosing levels not fixed by the URL scope (so
	// /series and /instances return study attributes, /studies/{s}/instances
	// series attributes), StudyInstanceUID always, the include fields and
	// the matching keys, and the computed ModalitiesInStudy,
	// NumberOfStudyRelatedSeries/Instances, NumberOfSeriesRelatedInstances
	// and InstanceAvailability ("ONLINE"). RetrieveURL is the HTTP layer's.
	// Include fields below the query level are ignored; IncludeAll returns
	// every attribute of the result's levels. Invalid queries (see Compile)
	// are ErrInvalidQuery. Order is deterministic, so paging is stable:
	// studies by StudyDate+StudyTime descending (undated last), then
	// StudyInstanceUID descending; within a study, series by SeriesNumber
	// (absent last) then SeriesInstanceUID; within a series, instances by
	// InstanceNumber (absent last) then SOPInstanceUID. A query matching
	// nothing returns an empty slice, not ErrNotFound. The returned
	// datasets are the caller's.
	Search(ctx context.Context, q Query) ([]dicomjson.Dataset, error)
	// Delete removes an instance (and empty series/studies), updating the
	// aggregates and representatives atomically. Missing is not an error.
	Delete(ctx context.Context, instanceUID string) error
	// Reset removes everything (used by reindex before rebuilding). It is
	// not atomic with respect to concurrent Puts: pause writers first.
	Reset(ctx context.Context) error
	// Close releases resources; safe to call more than once.
	Close() error
}
