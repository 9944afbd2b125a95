package control

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

// deadlines records the deadline of each call it passes on to a real
// store.
type deadlines struct {
	store.Store
	seen []time.Duration // time left at each call; -1: no deadline
}

func (d *deadlines) record(ctx context.Context) {
	left := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	d.seen = append(d.seen, left)
}

func (d *deadlines) Get(ctx context.Context, key string) (store.KV, error) {
	d.record(ctx)
	return d.Store.Get(ctx, key)
}

func (d *deadlines) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	d.record(ctx)
	return d.Store.List(ctx, prefix)
}

func (d *deadlines) Txn(ctx context.Context, cmps []store.Cmp, ops []store.Op) (int64, error) {
	d.record(ctx)
	return d.Store.Txn(ctx, cmps, ops)
}

func (d *deadlines) Rev(ctx context.Context) (int64, error) {
	d.record(ctx)
	return d.Store.Rev(ctx)
}

// TestEachStoreCallIsBounded: every store call of the API gets a deadline
// of its own, fresh even when the caller's context has none, so the time
// spent before it (compiling an upload) never counts against it.
func TestEachStoreCallIsBounded(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := &deadlines{Store: st}
	b := boundedStore{rec}
	ctx := context.Background()
	if _, err := b.Txn(ctx, nil, []store.Op{{Key: "k", Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.List(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rev(ctx); err != nil {
		t.Fatal(err)
	}
	// A caller's earlier, nearer deadline still wins.
	near, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := b.Get(near, "k"); err != nil {
		t.Fatal(err)
	}
	if len(rec.seen) != 5 {
		t.Fatalf("%d calls recorded, want 5", len(rec.seen))
	}
	for i, left := range rec.seen[:4] {
		if left <= time.Second || left > storeTimeout {
			t.Errorf("call %d: %v left, want a deadline of its own, at most %v", i, left, storeTimeout)
		}
	}
	if left := rec.seen[4]; left < 0 || left > time.Second {
		t.Errorf("under a 1s caller deadline: %v left", left)
	}
}
