package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/storage"
)

// Ownership of studies and series.
//
// A study belongs to the site that sent its first instance, and so does a
// series. Another site may not add to it, by any transport and whatever the
// URL says: otherwise an instance carrying a victim's Study Instance UID
// would change the victim's study summary (patient name, modalities,
// counts) and make the sender a contributor with the rights that brings.
//
// The owner is recorded in a small object, owner/study/{uid} and
// owner/series/{uid}, created with PutIfAbsent by the first instance before
// its original is written. Among concurrent first instances of one UID from
// different sites exactly one PutIfAbsent succeeds (the storage contract,
// on every backend and across replicas), so two sites racing to create the
// same study cannot both win — independently of the catalog backend. The
// record lives in the source of truth, so a catalog reset, a Redis wipe or
// a reindex never forgets who owns a study. Records never change once
// written, which is what lets every replica cache them.
//
// Studies stored before ownership was recorded have no owner object: their
// owner is the site of their earliest received instance in the catalog,
// written to an owner object on first use.

const ownerPrefix = "owner/"

// Ownership levels (the middle segment of an owner key).
const (
	levelStudy  = "study"
	levelSeries = "series"
)

// ownerKey is where the owner of a study or series is recorded.
func ownerKey(level, uid string) string { return ownerPrefix + level + "/" + uid }

// ownerDoc is the content of an owner object.
type ownerDoc struct {
	Site string `json:"site"`
	// Study is the study a series was first stored in (series only).
	Study string    `json:"study,omitempty"`
	At    time.Time `json:"at"`
}

// maxKnownOwners bounds the per-replica cache of owner records (~100 bytes
// each); past it the cache starts over.
const maxKnownOwners = 200_000

// owners resolves and records study and series owners.
type owners struct {
	store storage.Store
	cat   catalog.Catalog
	now   func() time.Time

	mu    sync.Mutex
	known map[string]string // owner key → site
}

func newOwners(store storage.Store, cat catalog.Catalog, now func() time.Time) *owners {
	return &owners{store: store, cat: cat, now: now, known: map[string]string{}}
}

func (o *owners) cached(key string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.known[key]
	return s, ok
}

func (o *owners) remember(key, site string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.known) >= maxKnownOwners {
		o.known = map[string]string{}
	}
	o.known[key] = site
}

// lookup returns the owner of a study or series without recording one:
// the owner object, else (data stored before owners were recorded) the
// site of the earliest instance in the catalog. ok is false for a UID
// nobody owns yet.
func (o *owners) lookup(ctx context.Context, level, uid, study string) (site string, ok bool, err error) {
	key := ownerKey(level, uid)
	if s, ok := o.cached(key); ok {
		return s, true, nil
	}
	doc, err := o.read(ctx, key)
	switch {
	case err == nil:
		o.remember(key, doc.Site)
		return doc.Site, true, nil
	case !errors.Is(err, storage.ErrNotFound):
		return "", false, err
	}
	series := ""
	if level == levelSeries {
		series = uid
	}
	site, ok, err = o.legacy(ctx, study, series)
	if err != nil || !ok {
		return "", false, err
	}
	// Record what the catalog says, so the next instance of a large
	// legacy study reads one small object instead of its instance list.
	if site, err = o.record(ctx, level, uid, study, site); err != nil {
		return "", false, err
	}
	return site, true, nil
}

// legacy finds the owner of a study (or of a series of it) indexed before
// owner objects existed: the site of its earliest received instance.
func (o *owners) legacy(ctx context.Context, study, series string) (string, bool, error) {
	if study == "" {
		return "", false, nil
	}
	recs, err := catalog.InstanceKeys(ctx, o.cat, study, series)
	if errors.Is(err, catalog.ErrNotFound) || err == nil && len(recs) == 0 {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("owner of study %s: %w", study, err)
	}
	first := recs[0]
	for _, r := range recs[1:] {
		if r.ReceivedAt.Before(first.ReceivedAt) {
			first = r
		}
	}
	return first.Site, true, nil
}

// claim makes site the owner of uid if nobody owns it yet and fails with
// ErrForeignUID if another site does. study is the study the instance
// belongs to (the UID itself for a study).
func (o *owners) claim(ctx context.Context, level, uid, study, site string) error {
	owner, ok, err := o.lookup(ctx, level, uid, study)
	if err != nil {
		return err
	}
	if !ok {
		if owner, err = o.record(ctx, level, uid, study, site); err != nil {
			return err
		}
	}
	if owner != site {
		return foreign(level, uid)
	}
	return nil
}

// record writes site as the owner of uid unless another owner got there
// first; it returns the owner that stands.
func (o *owners) record(ctx context.Context, level, uid, study, site string) (string, error) {
	key := ownerKey(level, uid)
	doc := ownerDoc{Site: site, At: o.now().UTC()}
	if level == levelSeries {
		doc.Study = study
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encode owner of %s %s: %w", level, uid, err)
	}
	_, err = o.store.PutIfAbsent(ctx, key, bytes.NewReader(b), storage.PutOptions{ContentType: "application/json", Size: int64(len(b))})
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrExists):
		// Another instance (of this or another site) recorded it first.
		won, rerr := o.read(ctx, key)
		if rerr != nil {
			return "", rerr
		}
		site = won.Site
	default:
		return "", fmt.Errorf("record owner of %s %s: %w", level, uid, err)
	}
	o.remember(key, site)
	return site, nil
}

// maxOwnerBytes bounds an owner object read back.
const maxOwnerBytes = 4 << 10

func (o *owners) read(ctx context.Context, key string) (ownerDoc, error) {
	rc, _, err := o.store.Get(ctx, key)
	if err != nil {
		return ownerDoc{}, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxOwnerBytes+1))
	if err != nil {
		return ownerDoc{}, fmt.Errorf("read %s: %w", key, err)
	}
	if len(b) > maxOwnerBytes {
		return ownerDoc{}, fmt.Errorf("read %s: larger than %d bytes", key, maxOwnerBytes)
	}
	var doc ownerDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return ownerDoc{}, fmt.Errorf("decode %s: %w", key, err)
	}
	return doc, nil
}

// foreign is the refusal of a UID another site owns. It names only the UID
// the sender itself sent — never the owner, nor anything of its study — and
// reads the same whether the study or the series is the one taken.
func foreign(level, uid string) error {
	name := "Study Instance UID"
	if level == levelSeries {
		name = "Series Instance UID"
	}
	return fmt.Errorf("%w: %s %s cannot be used for an upload from this site; give the instance new UIDs", ErrForeignUID, name, uid)
}

// claimInstance checks (and on first use records) that site owns the
// instance's study and series.
func (o *owners) claimInstance(ctx context.Context, study, series, site string) error {
	if err := o.claim(ctx, levelStudy, study, study, site); err != nil {
		return err
	}
	return o.claim(ctx, levelSeries, series, study, site)
}

// StudyOwner returns the site that owns study; ok is false when nobody does
// yet (no instance of it was ever stored). Transports that name a study in
// their request (STOW-RS POST /studies/{study}, study completion) check it
// before accepting anything.
func (s *Service) StudyOwner(ctx context.Context, study string) (site string, ok bool, err error) {
	return s.owners.lookup(ctx, levelStudy, study, study)
}
