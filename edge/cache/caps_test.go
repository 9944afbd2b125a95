package cache

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// capsFixture is a cache with a handler per tenant on an upstream
// answering cacheable bodies of ?size= bytes.
type capsFixture struct {
	t        *testing.T
	c        *Cache
	handlers map[string]http.Handler
}

func newCapsFixture(t *testing.T, shards int, caps map[string]int64, tenants ...string) *capsFixture {
	c, err := New(Config{MaxBytes: 4 << 20, Shards: shards, TenantMaxBytes: caps})
	if err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("size"))
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(make([]byte, n))
	})
	f := &capsFixture{t: t, c: c, handlers: map[string]http.Handler{}}
	for _, tn := range tenants {
		f.handlers[tn] = c.Handler(tn, Policy{}, next)
	}
	return f
}

// get requests path of size bytes for tenant and reports whether it was a
// hit.
func (f *capsFixture) get(tenant, path string, size int) bool {
	f.t.Helper()
	rec := httptest.NewRecorder()
	f.handlers[tenant].ServeHTTP(rec, httptest.NewRequest("GET", "http://h"+path+"?size="+strconv.Itoa(size), nil))
	if rec.Code != 200 || rec.Body.Len() != size {
		f.t.Fatalf("%s %s: %d, %d bytes", tenant, path, rec.Code, rec.Body.Len())
	}
	return isHit(resp{header: rec.Header()})
}

func (f *capsFixture) tenant(name string) TenantStats { return f.c.Stats().Tenants[name] }

// TestSetTenantMaxBytes: lowering a tenant's cap evicts its least
// recently used entries (and no one else's) at once; raising it lets it
// store more, objects larger than the old cap included; removing it
// leaves the tenant bounded by MaxBytes only.
func TestSetTenantMaxBytes(t *testing.T) {
	f := newCapsFixture(t, 1, map[string]int64{"a": 64 << 10}, "a", "b")
	for i := range 10 {
		f.get("a", "/a"+strconv.Itoa(i), 4000)
		f.get("b", "/b"+strconv.Itoa(i), 4000)
	}
	f.get("a", "/a0", 4000) // /a0 is now a's most recently used; /a1 its oldest
	before := f.tenant("a")
	if before.Entries != 10 || before.Evictions != 0 {
		t.Fatalf("before: %+v", before)
	}

	// Lower: a keeps its 4 most recently used entries.
	if err := f.c.SetTenantMaxBytes(map[string]int64{"a": 20000}); err != nil {
		t.Fatal(err)
	}
	a := f.tenant("a")
	if a.Bytes > 20000 || a.Entries != 4 || a.Evictions != 6 {
		t.Fatalf("after lowering a's cap to 20000: %+v", a)
	}
	for _, p := range []string{"/a0", "/a9", "/a8", "/a7"} {
		if !f.get("a", p, 4000) {
			t.Errorf("%s, among a's most recently used, was evicted", p)
		}
	}
	if f.get("a", "/a1", 4000) {
		t.Error("/a1, a's least recently used, was kept")
	}
	if b := f.tenant("b"); b.Entries != 10 || b.Evictions != 0 {
		t.Fatalf("b lost entries to a's cap: %+v", b)
	}
	// Storing /a1 again (the miss above) evicted a's own to fit.
	if a := f.tenant("a"); a.Bytes > 20000 {
		t.Fatalf("a over its cap after a store: %+v", a)
	}

	// Raise: an object larger than the old cap is now stored, and a keeps
	// more entries.
	for range 2 {
		if f.get("a", "/big", 30000) {
			t.Fatal("a 30000-byte object was stored under a 20000-byte cap")
		}
	}
	if err := f.c.SetTenantMaxBytes(map[string]int64{"a": 256 << 10}); err != nil {
		t.Fatal(err)
	}
	f.get("a", "/big", 30000)
	if !f.get("a", "/big", 30000) {
		t.Fatal("a 30000-byte object was not stored after raising the cap to 256 KiB")
	}
	for i := range 40 {
		f.get("a", "/r"+strconv.Itoa(i), 4000)
	}
	if a := f.tenant("a"); a.Bytes > 256<<10 || a.Bytes < 200<<10 {
		t.Fatalf("after raising a's cap to 256 KiB and storing 190 KiB more: %+v", a)
	}

	// Remove: only MaxBytes bounds a.
	if err := f.c.SetTenantMaxBytes(nil); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		f.get("a", "/n"+strconv.Itoa(i), 4000)
	}
	if a := f.tenant("a"); a.Bytes <= 256<<10 {
		t.Fatalf("a still capped after its cap was removed: %+v", a)
	}
	if b := f.tenant("b"); b.Entries != 10 {
		t.Fatalf("b: %+v", b)
	}
}

// TestSetTenantMaxBytesRefused: a cap not > 0 is refused, naming the
// tenant; nothing changes, and the caller's map is neither changed nor
// kept.
func TestSetTenantMaxBytesRefused(t *testing.T) {
	f := newCapsFixture(t, 1, map[string]int64{"a": 8000}, "a")
	for i := range 4 {
		f.get("a", "/a"+strconv.Itoa(i), 1000)
	}
	caps := map[string]int64{"a": 100, "b": 0, "c": -1}
	err := f.c.SetTenantMaxBytes(caps)
	if !errors.Is(err, ErrConfig) || !contains(err.Error(), "TenantMaxBytes[b]") || !contains(err.Error(), "TenantMaxBytes[c]") {
		t.Fatalf("SetTenantMaxBytes = %v, want ErrConfig naming b and c", err)
	}
	if a := f.tenant("a"); a.Entries != 4 {
		t.Fatalf("a refused change evicted: %+v", a)
	}
	if limit, _ := f.c.tenantCap("a"); limit != 8000 {
		t.Fatalf("cap of a = %d after a refused change, want 8000", limit)
	}
	good := map[string]int64{"a": 2500}
	if err := f.c.SetTenantMaxBytes(good); err != nil {
		t.Fatal(err)
	}
	good["a"] = 1 << 30 // the cache kept no reference to the map
	if limit, _ := f.c.tenantCap("a"); limit != 2500 {
		t.Fatalf("cap of a = %d, want 2500", limit)
	}
	if a := f.tenant("a"); a.Bytes > 2500 || a.Entries == 0 {
		t.Fatalf("a: %+v", a)
	}
}

// TestSetTenantMaxBytesConcurrent changes caps while tenants store and
// hit entries on every shard (run with -race): once SetTenantMaxBytes
// returns, no tenant is over its new cap.
func TestSetTenantMaxBytesConcurrent(t *testing.T) {
	tenants := []string{"a", "b", "free"}
	f := newCapsFixture(t, 4, map[string]int64{"a": 64 << 10, "b": 64 << 10}, tenants...)
	var busy sync.WaitGroup
	for g := range 6 {
		busy.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 500 {
				tn := tenants[rng.IntN(len(tenants))]
				k := rng.IntN(300)
				rec := httptest.NewRecorder()
				f.handlers[tn].ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("http://h/k%d?size=%d", k, k*37%6000), nil))
			}
		})
	}
	done := make(chan struct{})
	go func() { busy.Wait(); close(done) }()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; ; round++ {
		select {
		case <-done:
			if s := f.c.Stats(); s.Evictions == 0 || s.Hits == 0 {
				t.Fatalf("the workload did not exercise eviction and hits: %+v", s)
			}
			t.Logf("%d cap changes during the workload", round)
			return
		default:
		}
		caps := map[string]int64{}
		for _, tn := range []string{"a", "b"} {
			if rng.IntN(4) > 0 {
				caps[tn] = int64(4+rng.IntN(128)) << 10
			}
		}
		if err := f.c.SetTenantMaxBytes(caps); err != nil {
			t.Fatal(err)
		}
		s := f.c.Stats()
		for tn, limit := range caps {
			if b := s.Tenants[tn].Bytes; b > limit {
				t.Fatalf("round %d: %s has %d bytes, over its new cap %d", round, tn, b, limit)
			}
		}
	}
}
