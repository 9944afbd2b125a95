package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The embedded store's layout: bucket "kv" holds every key, each value
// prefixed with the 8-byte big-endian ModRev that wrote it; bucket
// "meta" holds "rev", the store revision, 8 bytes big-endian.
var (
	bucketKV   = []byte("kv")
	bucketMeta = []byte("meta")
	metaRev    = []byte("rev")
)

// boltOpenTimeout is how long OpenBolt waits for the file lock another
// process holds before it gives up.
const boltOpenTimeout = time.Second

// errUnchanged rolls back a Txn that changed nothing, so it neither
// writes nor makes a revision.
var errUnchanged = errors.New("store: unchanged")

// Bolt is the embedded store: one bbolt file on the local disk, which
// one process at a time may open. Its Watch sees the writes made through
// this Bolt only, which is all there are, since no other process can
// open the file. It is safe for concurrent use.
type Bolt struct {
	db   *bolt.DB
	path string
	// mu orders commits with their publication, so watchers see
	// revisions in the order they were committed.
	mu  sync.Mutex
	hub *hub
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens, or creates, the embedded store at path. If another
// process holds the file it fails after a second with an error saying
// so (wrapping bbolt's ErrTimeout).
func OpenBolt(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: boltOpenTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: locked by another process (or already open in this one): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	var rev int64
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketKV); err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		rev, err = readRev(meta)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &Bolt{db: db, path: path, hub: newHub(rev)}, nil
}

// Get returns the key's value, or an error wrapping ErrNotFound.
func (b *Bolt) Get(ctx context.Context, key string) (KV, error) {
	if err := ctx.Err(); err != nil {
		return KV{}, fmt.Errorf("store: get %q: %w", key, err)
	}
	var kv KV
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketKV).Get([]byte(key))
		if v == nil {
			return fmt.Errorf("%w: %q", ErrNotFound, key)
		}
		rev, val, err := decodeValue(v)
		if err != nil {
			return err
		}
		kv = KV{Key: key, Value: bytes.Clone(val), ModRev: rev}
		return nil
	})
	if err != nil {
		return KV{}, b.wrap("get", key, err)
	}
	return kv, nil
}

// List returns every key under prefix, in key order, and the store
// revision, read in one bbolt transaction.
func (b *Bolt) List(ctx context.Context, prefix string) ([]KV, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: list %q: %w", prefix, err)
	}
	kvs := []KV{}
	var rev int64
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		if rev, err = readRev(tx.Bucket(bucketMeta)); err != nil {
			return err
		}
		p := []byte(prefix)
		c := tx.Bucket(bucketKV).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			mr, val, err := decodeValue(v)
			if err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			kvs = append(kvs, KV{Key: string(k), Value: bytes.Clone(val), ModRev: mr})
		}
		return nil
	})
	if err != nil {
		return nil, 0, b.wrap("list", prefix, err)
	}
	return kvs, rev, nil
}

// Txn applies ops atomically in one bbolt transaction if every cmp
// holds, and returns the new store revision.
func (b *Bolt) Txn(ctx context.Context, cmps []Cmp, ops []Op) (int64, error) {
	if err := checkTxn(cmps, ops); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: txn: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var rev int64
	var changed []string
	err := b.db.Update(func(tx *bolt.Tx) error {
		kvb, meta := tx.Bucket(bucketKV), tx.Bucket(bucketMeta)
		cur, err := readRev(meta)
		if err != nil {
			return err
		}
		rev = cur
		for _, c := range cmps {
			var have int64
			if v := kvb.Get([]byte(c.Key)); v != nil {
				if have, _, err = decodeValue(v); err != nil {
					return fmt.Errorf("key %q: %w", c.Key, err)
				}
			}
			if have != c.ModRev {
				return conflict(c.Key, have, c.ModRev)
			}
		}
		next := cur + 1
		for _, op := range ops {
			switch {
			case op.DeletePrefix:
				var keys [][]byte
				p := []byte(op.Key)
				c := kvb.Cursor()
				for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
					keys = append(keys, bytes.Clone(k))
				}
				for _, k := range keys {
					if err := kvb.Delete(k); err != nil {
						return err
					}
					changed = append(changed, string(k))
				}
			case op.Delete:
				if kvb.Get([]byte(op.Key)) == nil {
					continue
				}
				if err := kvb.Delete([]byte(op.Key)); err != nil {
					return err
				}
				changed = append(changed, op.Key)
			default:
				if err := kvb.Put([]byte(op.Key), encodeValue(next, op.Value)); err != nil {
					return err
				}
				changed = append(changed, op.Key)
			}
		}
		if len(changed) == 0 {
			return errUnchanged
		}
		rev = next
		return meta.Put(metaRev, binary.BigEndian.AppendUint64(nil, uint64(next)))
	})
	switch {
	case errors.Is(err, errUnchanged):
		return rev, nil
	case err != nil:
		return 0, b.wrap("txn", "", err)
	}
	slices.Sort(changed)
	b.hub.publish(Event{Rev: rev, Keys: slices.Compact(changed)})
	return rev, nil
}

// Watch reports each revision after afterRev that changed a key under
// prefix. It replays the last few thousand revisions from memory; older
// ones, and any before this Bolt was opened, end the watch with
// ErrCompacted, as does falling more than a few thousand revisions
// behind.
func (b *Bolt) Watch(ctx context.Context, prefix string, afterRev int64) <-chan Event {
	return b.hub.watch(ctx, prefix, afterRev)
}

// Rev is the store's current revision.
func (b *Bolt) Rev(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: rev: %w", err)
	}
	var rev int64
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		rev, err = readRev(tx.Bucket(bucketMeta))
		return err
	})
	if err != nil {
		return 0, b.wrap("rev", "", err)
	}
	return rev, nil
}

// Close ends every watch (with ErrUnavailable) and closes the file.
func (b *Bolt) Close() error {
	b.hub.close(fmt.Errorf("%w: %s closed", ErrUnavailable, b.path))
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", b.path, err)
	}
	return nil
}

// wrap prefixes err with what failed, unless it is already one of ours.
func (b *Bolt) wrap(op, key string, err error) error {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
		return err
	}
	what := op
	if key != "" {
		what = fmt.Sprintf("%s %q", op, key)
	}
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %s: %s is closed: %w", ErrUnavailable, what, b.path, err)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// conflict is the error of a failed Cmp.
func conflict(key string, have, want int64) error {
	if want == 0 {
		return fmt.Errorf("%w: %q exists (ModRev %d), want absent", ErrConflict, key, have)
	}
	if have == 0 {
		return fmt.Errorf("%w: %q is absent, want ModRev %d", ErrConflict, key, want)
	}
	return fmt.Errorf("%w: %q has ModRev %d, want %d", ErrConflict, key, have, want)
}

// encodeValue is how the kv bucket stores a value: the ModRev, 8 bytes
// big-endian, then the value.
func encodeValue(rev int64, val []byte) []byte {
	out := make([]byte, 8, 8+len(val))
	binary.BigEndian.PutUint64(out, uint64(rev))
	return append(out, val...)
}

// decodeValue splits a stored value into its ModRev and bytes (a slice
// of v). A value shorter than 8 bytes or with a ModRev below 1 is
// damage.
func decodeValue(v []byte) (int64, []byte, error) {
	if len(v) < 8 {
		return 0, nil, fmt.Errorf("stored value of %d bytes: shorter than its 8-byte revision", len(v))
	}
	rev := int64(binary.BigEndian.Uint64(v))
	if rev < 1 {
		return 0, nil, fmt.Errorf("stored value has revision %d", rev)
	}
	return rev, v[8:], nil
}

// readRev reads the store revision from the meta bucket (0 when unset).
func readRev(meta *bolt.Bucket) (int64, error) {
	v := meta.Get(metaRev)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) < 0 {
		return 0, fmt.Errorf("stored revision %x is damaged", v)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}
