// Package catalog is the study/series/instance index behind QIDO-RS and every
// lookup by UID. It is derived state: everything in it can be rebuilt from
// the per-instance metadata in object storage (`huren reindex`).
//
// The Catalog interface lives here; backends are catalog/memory (embedded
// default) and catalog/redis, and both pass catalog/catalogtest. So that
// they answer every query identically, the QIDO semantics live here too and
// the backends only store and index:
//
//   - ParseQuery turns QIDO-RS URL parameters into a Query.
//   - Compile validates a Query (PS3.18 §8.3.4 / PS3.4 C.2.2.2 matching:
//     single value, universal, wildcard, PN case-insensitive on any
//     group/component, DA/TM/DT ranges, UID lists) into a Plan whose exported
//     fields are index hints.
//   - Normalize, StudyPart, SeriesPart, StudyDataset, SeriesDataset,
//     StudyScore, ReceivedScore and PNTokens define what a backend stores
//     and indexes for a record.
//   - Execute walks the candidates a backend's Source yields, checks every
//     key, applies the site scope before paging and projects the results.
//
// Concurrency: every exported function is safe for concurrent use; Catalog
// implementations must be safe for concurrent use by many goroutines and
// (Redis) by many replicas.
//
// Non-goals: relational queries across levels beyond the study/series/
// instance hierarchy (a study-level key on a series-only attribute is
// rejected, except Modality, read as ModalitiesInStudy), sequence matching,
// combined StudyDate+StudyTime ranges (each is matched on its own), and UTC
// offsets in DT ranges (ignored).
package catalog
