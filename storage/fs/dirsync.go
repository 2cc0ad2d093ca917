package fs

import "sync"

// dirSyncer makes directory entries durable with as few fsyncs as the
// callers allow: a caller's fsync must start after its own change to the
// directory, and one fsync that starts after several changes covers them
// all. Concurrent instances of one series land in one directory, so while
// one directory fsync is in flight the callers that arrive meanwhile wait
// for it and then share the next one (a group commit per directory) instead
// of each issuing its own. A lone caller's fsync starts at once.
type dirSyncer struct {
	mu   sync.Mutex
	dirs map[string]*dirRounds // only directories with a sync in flight
	// sync is the fsync itself (Store.sys.syncDir; tests count calls).
	sync func(dir string) error
}

// dirRounds is one directory's state: a round in flight and, possibly, the
// next round collecting callers that arrived after it started.
type dirRounds struct {
	next   *syncRound
	joined int // callers waiting for next (tests wait on it)
}

type syncRound struct {
	done chan struct{}
	err  error
}

func newDirSyncer(sync func(dir string) error) *dirSyncer {
	return &dirSyncer{dirs: map[string]*dirRounds{}, sync: sync}
}

// Sync returns once an fsync of dir that started after the call began has
// completed, with that fsync's error.
func (d *dirSyncer) Sync(dir string) error {
	d.mu.Lock()
	st, busy := d.dirs[dir]
	if !busy {
		// Nothing in flight: run a round of our own now.
		d.dirs[dir] = &dirRounds{}
		d.mu.Unlock()
		r := &syncRound{done: make(chan struct{})}
		d.run(dir, r)
		return r.err
	}
	if st.next == nil {
		st.next = &syncRound{done: make(chan struct{})}
	}
	r := st.next
	st.joined++
	d.mu.Unlock()
	<-r.done
	return r.err
}

// run performs round r, then hands the next round (if callers joined one
// meanwhile) to a new goroutine so that r's caller returns at once.
func (d *dirSyncer) run(dir string, r *syncRound) {
	r.err = d.sync(dir)
	close(r.done)
	d.mu.Lock()
	st := d.dirs[dir]
	next := st.next
	st.next, st.joined = nil, 0
	if next == nil {
		delete(d.dirs, dir)
	}
	d.mu.Unlock()
	if next != nil {
		go d.run(dir, next)
	}
}
