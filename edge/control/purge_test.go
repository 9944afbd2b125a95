package control

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

// fleetFixture is two nodes' caches and admin APIs on one store: node a
// takes the purges, node b follows them.
type fleetFixture struct {
	a, b  *fixture
	store store.Store
}

func newFleetFixture(t *testing.T) *fleetFixture {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ff := &fleetFixture{a: newFixture(t), b: newFixture(t), store: st}
	for name, f := range map[string]*fixture{"a": ff.a, "b": ff.b} {
		f.admin.EnableTenantAPI(TenantAPI{Store: st, StoreType: "embedded", Status: func() Status { return Status{Node: name, Ready: true} }})
	}
	return ff
}

// follow runs node b's purge follower on s until the test ends.
func (ff *fleetFixture) follow(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&PurgeFollower{Store: s, Cache: ff.b.c}).Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// eventually polls cond; a hang guard, not a bound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 20s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPurgeReachesTheFleet: a purge one node accepts empties the same
// entries on every node, and only those; a refused purge reaches none.
func TestPurgeReachesTheFleet(t *testing.T) {
	ff := newFleetFixture(t)
	ff.follow(t, ff.store)
	for _, f := range []*fixture{ff.a, ff.b} {
		f.get(t, "acme", "acme.test", "/a")
		f.get(t, "acme", "acme.test", "/b")
		f.get(t, "globex", "globex.test", "/a")
	}
	before, _ := ff.store.Rev(context.Background())
	if code, body := ff.a.purge(t, "acme-secret", "acme", `{"host":"globex.test"}`); code != 403 {
		t.Fatalf("foreign purge: %d %s", code, body)
	}
	if rev, _ := ff.store.Rev(context.Background()); rev != before {
		t.Fatal("a refused purge was written for the fleet")
	}

	// The follower starts from the revision it finds: purge until node b
	// has seen one (each purge of the same URL is the same).
	eventually(t, "node b purged acme.test/a", func() bool {
		if code, body := ff.a.purge(t, "acme-secret", "acme", `{"url":"http://acme.test/a"}`); code != 200 {
			t.Fatalf("purge: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
		return !ff.b.get(t, "acme", "acme.test", "/a")
	})
	if ff.a.get(t, "acme", "acme.test", "/a") {
		t.Error("node a still serves the purged URL")
	}
	if !ff.b.get(t, "acme", "acme.test", "/b") || !ff.b.get(t, "globex", "globex.test", "/a") {
		t.Error("node b lost entries nobody purged")
	}

	// Tags and hosts travel too.
	code, body := ff.a.purge(t, "acme-secret", "acme", `{"tag":"b"}`)
	if code != 200 || body == "" {
		t.Fatalf("purge tag: %d %s", code, body)
	}
	eventually(t, "node b purged tag b", func() bool { return !ff.b.get(t, "acme", "acme.test", "/b") })
	if code, _ := ff.a.purge(t, "globex-secret", "globex", `{"host":"globex.test"}`); code != 200 {
		t.Fatal("purge host")
	}
	eventually(t, "node b purged host globex.test", func() bool { return !ff.b.get(t, "globex", "globex.test", "/a") })
}

// brokenWatch is a real store whose first watch breaks at once, after
// running during (what happens while the watch is down).
type brokenWatch struct {
	store.Store
	once   sync.Once
	during func()
}

func (s *brokenWatch) Watch(ctx context.Context, prefix string, afterRev int64) <-chan store.Event {
	broken := false
	s.once.Do(func() { broken = true; s.during() })
	if !broken {
		return s.Store.Watch(ctx, prefix, afterRev)
	}
	ch := make(chan store.Event, 1)
	ch <- store.Event{Err: store.ErrUnavailable}
	close(ch)
	return ch
}

// TestPurgeFollowerCatchesUp: purges written while a node's watch was
// down are applied when it reads the store again.
func TestPurgeFollowerCatchesUp(t *testing.T) {
	ff := newFleetFixture(t)
	ff.b.get(t, "acme", "acme.test", "/a")
	ff.follow(t, &brokenWatch{Store: ff.store, during: func() {
		if code, body := ff.a.purge(t, "acme-secret", "acme", `{"url":"http://acme.test/a"}`); code != 200 {
			t.Errorf("purge: %d %s", code, body)
		}
	}})
	eventually(t, "node b caught up with the purge it missed", func() bool { return !ff.b.get(t, "acme", "acme.test", "/a") })
}

// TestOldPurgesAreDeleted: the store keeps an hour of purges.
func TestOldPurgesAreDeleted(t *testing.T) {
	ff := newFleetFixture(t)
	ctx := context.Background()
	now := time.Now().UTC()
	for _, age := range []time.Duration{3 * time.Hour, 2 * time.Hour, 30 * time.Minute} {
		if _, err := ff.a.admin.publishPurge(ctx, purgeDoc{Tenant: "acme", Tag: "x", Node: "a", At: now.Add(-age)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ff.a.admin.publishPurge(ctx, purgeDoc{Tenant: "acme", Tag: "y", Node: "a", At: now}); err != nil {
		t.Fatal(err)
	}
	kvs, _, err := ff.store.List(ctx, purgesPrefix)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{purgeKey(now.Add(-30*time.Minute), "a"), purgeKey(now, "a")}
	if len(kvs) != 2 || kvs[0].Key != want[0] || kvs[1].Key != want[1] {
		t.Fatalf("purges kept: %v, want %v", keysOf(kvs), want)
	}
}

func keysOf(kvs []store.KV) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.Key
	}
	return out
}
