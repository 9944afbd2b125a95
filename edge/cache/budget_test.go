package cache

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// Under a random concurrent workload, bytes never exceed MaxBytes nor a
// tenant's cap, and accounting returns to zero after purging everything.
func TestBudgetRandomWorkload(t *testing.T) {
	const maxBytes = 256 << 10
	caps := map[string]int64{"small": 32 << 10, "mid": 96 << 10}
	c, err := New(Config{MaxBytes: maxBytes, Shards: 4, TenantMaxBytes: caps})
	if err != nil {
		t.Fatal(err)
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("size"))
		w.Header().Set("Cache-Control", "max-age=600")
		if v := r.URL.Query().Get("vary"); v != "" {
			w.Header().Set("Vary", "X-V")
		}
		w.Header().Set("Surrogate-Key", "t"+strconv.Itoa(n%5))
		w.Write(make([]byte, n))
	}))
	defer origin.Close()
	fwd := forwardTo(origin.URL)
	tenants := []string{"small", "mid", "free"}
	handlers := map[string]http.Handler{}
	for _, tn := range tenants {
		handlers[tn] = c.Handler(tn, Policy{}, fwd)
	}
	check := func(round int) {
		s := c.Stats()
		if s.Bytes > maxBytes {
			t.Fatalf("round %d: %d bytes > MaxBytes %d", round, s.Bytes, maxBytes)
		}
		for tn, lim := range caps {
			if b := s.Tenants[tn].Bytes; b > lim {
				t.Fatalf("round %d: tenant %s has %d bytes > cap %d", round, tn, b, lim)
			}
		}
	}
	for round := range 30 {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				for range 40 {
					tn := tenants[rng.IntN(len(tenants))]
					k := rng.IntN(200)
					size := k * 7919 % (20 << 10)
					if k%10 == 0 {
						size = k * 7919 % (100 << 10) // some larger than a shard's share
					}
					path := fmt.Sprintf("/k%d?size=%d", k, size)
					if rng.IntN(4) == 0 {
						path += "&vary=1"
					}
					req := httptest.NewRequest("GET", "http://h.example"+path, nil)
					req.Header.Set("X-V", strconv.Itoa(rng.IntN(3)))
					rec := httptest.NewRecorder()
					handlers[tn].ServeHTTP(rec, req)
					if rec.Code != 200 || rec.Body.Len() != size {
						t.Errorf("%s: %d, %d bytes", path, rec.Code, rec.Body.Len())
					}
					switch rng.IntN(50) {
					case 0:
						c.PurgeTag(tn, "t"+strconv.Itoa(rng.IntN(5)))
					case 1:
						c.PurgeURL(tn, "http", "h.example", path)
					}
				}
			}()
		}
		wg.Wait()
		check(round)
	}
	s := c.Stats()
	if s.Evictions == 0 || s.Hits == 0 {
		t.Fatalf("the workload did not exercise eviction and hits: %+v", s)
	}
	for _, tn := range tenants {
		c.PurgeHost(tn, "h.example")
	}
	if s := c.Stats(); s.Bytes != 0 || s.Entries != 0 {
		t.Fatalf("after purging everything: %d bytes, %d entries", s.Bytes, s.Entries)
	}
}

// A tenant over its cap evicts its own entries, not other tenants'.
func TestTenantCapEvictsOwnFirst(t *testing.T) {
	c, err := New(Config{MaxBytes: 1 << 20, Shards: 1, TenantMaxBytes: map[string]int64{"greedy": 8 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write(make([]byte, 1000))
	})
	serve := func(h http.Handler, path string) bool {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://h"+path, nil))
		return isHit(resp{header: rec.Header()})
	}
	polite, greedy := c.Handler("polite", Policy{}, next), c.Handler("greedy", Policy{}, next)
	serve(polite, "/p")
	for i := range 50 {
		serve(greedy, "/g"+strconv.Itoa(i))
	}
	s := c.Stats()
	if g := s.Tenants["greedy"]; g.Bytes > 8<<10 || g.Evictions == 0 {
		t.Fatalf("greedy: %+v", g)
	}
	if !serve(polite, "/p") {
		t.Fatal("the polite tenant's entry was evicted")
	}
	if !serve(greedy, "/g49") || serve(greedy, "/g0") {
		t.Fatal("greedy's eviction was not LRU")
	}
}

func TestNewConfigErrors(t *testing.T) {
	cfg := Config{MaxBytes: 0, Shards: -1, MaxObjectBytes: -1, TenantMaxBytes: map[string]int64{"x": 0}}
	_, err := New(cfg)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"MaxBytes", "Shards", "MaxObjectBytes", "TenantMaxBytes[x]"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if cfg.TenantMaxBytes["x"] != 0 || cfg.Shards != -1 {
		t.Error("New changed the caller's config")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
