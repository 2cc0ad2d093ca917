// Package catalog is the study/series/instance index behind QIDO-RS and every
// lookup by UID. It is derived state: everything in it can be rebuilt from
// the per-instance metadata in object storage (`huren reindex`).
//
// The interface lives here; backends are catalog/memory (embedded default)
// and catalog/redis, and both pass catalog/catalogtest.
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
	// Attrs holds the instance's study-, series- and instance-level
	// attributes that QIDO matches on and returns (no bulk data, no
	// sequences other than those QIDO returns). Ingest builds it.
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
// ("00100010"), Value the raw query value (may hold wildcards *, ?, a range
// "a-b" for DA/TM/DT, or a UID list "u1,u2" / "u1\u2").
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
	// Limit 0 means the backend's default cap; Offset skips results.
	Limit  int
	Offset int
	// FuzzyMatching is accepted and may be ignored.
	FuzzyMatching bool
	// Sites, when non-nil, restricts results to records from these sites.
	// Applied before paging and counting so nothing outside it leaks.
	Sites []string
}

// Catalog indexes instances. Implementations must be safe for concurrent use
// by many goroutines and (Redis) by many replicas.
type Catalog interface {
	// Put indexes rec, replacing any record with the same InstanceUID
	// (idempotent). Study- and series-level aggregates (ModalitiesInStudy,
	// NumberOfStudyRelatedSeries/Instances, NumberOfSeriesRelatedInstances…)
	// reflect the change as soon as Put returns.
	Put(ctx context.Context, rec Record) error
	// Instance returns the record of an instance UID, ErrNotFound if absent.
	Instance(ctx context.Context, instanceUID string) (Record, error)
	// Instances lists the records of a study (seriesUID == "") or a series,
	// ordered by series, then InstanceNumber, then InstanceUID.
	// ErrNotFound when the study/series has no instances.
	Instances(ctx context.Context, studyUID, seriesUID string) ([]Record, error)
	// Search answers a QIDO query with one DICOM JSON object per matching
	// study, series or instance, carrying the attributes required at that
	// level (PS3.18 table 6.7.1-2 etc.), the include fields, and the computed
	// aggregates. Results are ordered deterministically (study: StudyDate
	// descending then StudyInstanceUID; series: SeriesNumber; instance:
	// InstanceNumber), so paging with Offset/Limit is stable.
	Search(ctx context.Context, q Query) ([]dicomjson.Dataset, error)
	// Delete removes an instance (and empty series/studies). Missing is not
	// an error.
	Delete(ctx context.Context, instanceUID string) error
	// Reset removes everything (used by reindex before rebuilding).
	Reset(ctx context.Context) error
	// Close releases resources; safe to call more than once.
	Close() error
}
