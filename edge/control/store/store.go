// Package store is where a Wedge fleet keeps its tenant layer: tenants,
// domains, tokens, upstream pools, routes and filter modules. One
// interface, two implementations: an embedded store on the local disk
// (bbolt; the default, so one node needs nothing else) and etcd, which
// many nodes share and watch.
//
// A Store is a flat, ordered key space of byte values under the store's
// own prefix. Every committed write (a Txn) gets the next store revision,
// and each key remembers the revision that last changed it (its ModRev),
// which is what the admin API's optimistic concurrency compares. Watch
// reports each committed revision under a prefix so nodes can reload.
//
// Filter modules are large: PutModule and GetModule store them
// compressed, in chunks that fit etcd's value limits, and GetModule
// verifies the SHA-256 before returning a byte.
package store

import (
	"context"
	"errors"
)

// Errors a Store returns, wrapped.
var (
	// ErrNotFound: the key (or module) does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a Txn's comparison failed; nothing was written.
	ErrConflict = errors.New("store: conflict")
	// ErrCompacted: a Watch asked for revisions the store no longer has;
	// the watcher must List again.
	ErrCompacted = errors.New("store: revision compacted")
	// ErrUnavailable: the store cannot be reached (etcd down or
	// partitioned). Callers keep what they have and retry.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrCorrupt: a stored module does not match its SHA-256 or cannot be
	// decompressed.
	ErrCorrupt = errors.New("store: corrupt module")
)

// KV is one key, its value, and the revision that last changed it.
type KV struct {
	Key    string
	Value  []byte
	ModRev int64
}

// MaxTxnOps is the most cmps, and the most ops, one Txn may have: etcd's
// default limit (--max-txn-ops), which the embedded store keeps too so
// that what works on one works on the other.
const MaxTxnOps = 128

// Cmp is one condition of a Txn: the key's ModRev must equal ModRev.
// ModRev 0 means the key must not exist.
type Cmp struct {
	Key    string
	ModRev int64
}

// Op is one write of a Txn: a put of Value, or a delete when Delete is
// set. A delete of a missing key is not an error. DeletePrefix deletes
// every key that starts with Key.
type Op struct {
	Key          string
	Value        []byte
	Delete       bool
	DeletePrefix bool
}

// Event is one committed revision seen by a Watch. Keys are the keys it
// changed under the watched prefix, in key order. A non-nil Err ends the watch (the
// channel is closed after it): ErrCompacted or ErrUnavailable.
type Event struct {
	Rev  int64
	Keys []string
	Err  error
}

// Store is the tenant layer's storage. Keys are relative to the store's
// prefix. Implementations are safe for concurrent use.
type Store interface {
	// Get returns the key's value, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) (KV, error)
	// List returns every key under prefix, in key order, and the store
	// revision they were read at (one consistent read).
	List(ctx context.Context, prefix string) ([]KV, int64, error)
	// Txn applies ops atomically if every cmp holds, and returns the new
	// store revision. If one fails it returns an error wrapping
	// ErrConflict and writes nothing. A Txn that changes nothing (no
	// ops, or only deletes of missing keys) returns the current revision
	// without making a new one. Both stores refuse, alike, what etcd
	// refuses: more than MaxTxnOps cmps or ops, an empty key, and a put
	// of a key another op of the same Txn also writes or deletes.
	Txn(ctx context.Context, cmps []Cmp, ops []Op) (int64, error)
	// Watch reports, in order, each revision after afterRev that changed
	// a key under prefix, until ctx ends. On ErrCompacted or
	// ErrUnavailable it sends an Event with Err and closes the channel.
	Watch(ctx context.Context, prefix string, afterRev int64) <-chan Event
	// Rev is the store's current revision.
	Rev(ctx context.Context) (int64, error)
	// Close releases the store.
	Close() error
}
