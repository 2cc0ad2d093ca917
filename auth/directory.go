package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/huren-health/huren/storage"
)

// Object keys of the durable account records.
const (
	prefixSites  = "accounts/sites/"
	prefixGroups = "accounts/groups/"
	prefixUsers  = "accounts/users/"
	prefixTokens = "accounts/tokens/"
	// changeMarker is rewritten (with fresh random content) after every
	// change to accounts/. Replicas and the hub watch it in storage, the
	// source of truth, so a change made by another process — the CLI next
	// to an embedded hub whose State is in-process, or any writer after
	// Redis lost the shared generation — is noticed within one refresh.
	changeMarker = "accounts/changed.json"
	// maxRecord bounds one account record read from storage.
	maxRecord = 1 << 20
)

func siteKey(id string) string  { return prefixSites + id + ".json" }
func groupKey(id string) string { return prefixGroups + id + ".json" }
func userKey(u string) string   { return prefixUsers + u + ".json" }
func tokenKey(id string) string { return prefixTokens + id + ".json" }

// snapshot is an immutable view of every account record. A new one replaces
// the old on reload, so readers never lock more than a pointer load.
type snapshot struct {
	gen    int64
	marker string // version of changeMarker when the records were read ("" = absent)
	sites  map[string]*Site
	groups map[string]*Group
	users  map[string]*User
	tokens map[string]*Token
}

func emptySnapshot() *snapshot {
	return &snapshot{sites: map[string]*Site{}, groups: map[string]*Group{}, users: map[string]*User{}, tokens: map[string]*Token{}}
}

// ancestors returns site and its ancestors, nearest first (cycle-safe).
func (s *snapshot) ancestors(site string) []string {
	var out []string
	for id := site; id != "" && len(out) < 64; {
		if slices.Contains(out, id) {
			break
		}
		out = append(out, id)
		st, ok := s.sites[id]
		if !ok {
			break
		}
		id = st.Parent
	}
	return out
}

// within reports whether site is root or below it.
func (s *snapshot) within(site, root string) bool {
	return slices.Contains(s.ancestors(site), root)
}

// directory loads the durable records from storage and keeps the current
// snapshot.
type directory struct {
	store storage.Store
	log   *slog.Logger
	mu    sync.Mutex // serialises reloads
	cur   atomic.Pointer[snapshot]
}

// current returns the installed snapshot (empty before the first load).
func (d *directory) current() *snapshot {
	if s := d.cur.Load(); s != nil {
		return s
	}
	return emptySnapshot()
}

// reload reads every record under accounts/ and installs the new snapshot,
// tagged with gen. A record that fails to parse is logged and skipped rather
// than locking everyone out.
func (d *directory) reload(ctx context.Context, gen int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := emptySnapshot()
	s.gen = gen
	// The marker is read before the records: a writer puts its record
	// before the marker, so a record this reload misses comes with a marker
	// version it has not seen, and the next refresh reloads again.
	marker, err := markerVersion(ctx, d.store)
	if err != nil {
		return err
	}
	s.marker = marker
	if err := loadAll(ctx, d, prefixSites, func(v *Site) { s.sites[v.ID] = v }); err != nil {
		return err
	}
	if err := loadAll(ctx, d, prefixGroups, func(v *Group) { s.groups[v.ID] = v }); err != nil {
		return err
	}
	if err := loadAll(ctx, d, prefixUsers, func(v *User) { s.users[v.Username] = v }); err != nil {
		return err
	}
	if err := loadAll(ctx, d, prefixTokens, func(v *Token) { s.tokens[v.ID] = v }); err != nil {
		return err
	}
	d.cur.Store(s)
	return nil
}

// markerVersion identifies the current content of the change marker: its
// SHA-256 (random content per change), with size and time as a fallback for
// a backend that records no checksum. "" when there is none yet.
func markerVersion(ctx context.Context, st storage.Store) (string, error) {
	info, err := st.Stat(ctx, changeMarker)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("stat %s: %w", changeMarker, err)
	}
	return fmt.Sprintf("%s/%d/%d", info.SHA256, info.Size, info.ModTime.UnixNano()), nil
}

// markChanged rewrites the change marker with new random content.
func markChanged(ctx context.Context, st storage.Store, now time.Time) error {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("random: %w", err)
	}
	return putJSON(ctx, st, changeMarker, struct {
		Changed time.Time `json:"changed"`
		Nonce   string    `json:"nonce"`
	}{now.UTC(), hex.EncodeToString(nonce)}, false)
}

func loadAll[T any](ctx context.Context, d *directory, prefix string, add func(*T)) error {
	var keys []string
	if err := d.store.List(ctx, prefix, func(i storage.Info) error {
		if strings.HasSuffix(i.Key, ".json") {
			keys = append(keys, i.Key)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	for _, k := range keys {
		v := new(T)
		if err := getJSON(ctx, d.store, k, v); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				continue // deleted between List and Get
			}
			if errors.Is(err, ErrInvalid) {
				d.log.Error("skipping corrupt account record", "key", k, "err", err)
				continue
			}
			return err
		}
		add(v)
	}
	return nil
}

func getJSON(ctx context.Context, st storage.Reader, key string, v any) error {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxRecord+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if len(b) > maxRecord {
		return fmt.Errorf("%w: %s larger than %d bytes", ErrInvalid, key, maxRecord)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, key, err)
	}
	return nil
}

func putJSON(ctx context.Context, st storage.Store, key string, v any, ifAbsent bool) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	opts := storage.PutOptions{ContentType: "application/json", Size: int64(len(b))}
	if ifAbsent {
		_, err = st.PutIfAbsent(ctx, key, bytes.NewReader(b), opts)
		if errors.Is(err, storage.ErrExists) {
			return fmt.Errorf("%w: %s", ErrExists, key)
		}
	} else {
		_, err = st.Put(ctx, key, bytes.NewReader(b), opts)
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}
