package control

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/control/store"
)

func TestLayerCacheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "tenants.cache")
	kvs := []store.KV{{Key: "tenants/acme/tenant", Value: []byte(`{"limits":{}}`), ModRev: 3}, {Key: "tenants/acme/serial", Value: []byte("{}"), ModRev: 4}}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	if err := saveLayer(path, kvs, 9, now); err != nil {
		t.Fatal(err)
	}
	got, c, err := loadLayer(path)
	if err != nil || c.Revision != 9 || !c.SavedAt.Equal(now) || len(got) != 2 || got[1].Key != kvs[1].Key || string(got[0].Value) != string(kvs[0].Value) || got[0].ModRev != 3 {
		t.Fatalf("round trip: %+v %+v %v", got, c, err)
	}
	data, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{
		"torn":     data[:len(data)/2],
		"edited":   []byte(strings.Replace(string(data), "acme", "acmf", 1)),
		"version":  []byte(strings.Replace(string(data), `"version":1`, `"version":2`, 1)),
		"not json": []byte("tenants"),
	} {
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := loadLayer(path); err == nil {
			t.Errorf("%s file loaded", name)
		}
	}
}

// switchable is a real store that can be made unreachable.
type switchable struct {
	store.Store
	down atomic.Bool
}

var errDown = errors.New("test: " + store.ErrUnavailable.Error())

func (s *switchable) err() error {
	if s.down.Load() {
		return errors.Join(store.ErrUnavailable, errDown)
	}
	return nil
}

func (s *switchable) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	if err := s.err(); err != nil {
		return nil, 0, err
	}
	return s.Store.List(ctx, prefix)
}

func (s *switchable) Rev(ctx context.Context) (int64, error) {
	if err := s.err(); err != nil {
		return 0, err
	}
	return s.Store.Rev(ctx)
}

func (s *switchable) Txn(ctx context.Context, cmps []store.Cmp, ops []store.Op) (int64, error) {
	if err := s.err(); err != nil {
		return 0, err
	}
	return s.Store.Txn(ctx, cmps, ops)
}

// applied records what a reloader applied.
type applied struct {
	mu    sync.Mutex
	names [][]string
}

func (a *applied) apply(_ context.Context, ts []config.Tenant, _ int64) error {
	var names []string
	for _, t := range ts {
		names = append(names, t.Name)
	}
	a.mu.Lock()
	a.names = append(a.names, names)
	a.mu.Unlock()
	return nil
}

func (a *applied) last() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.names) == 0 {
		return nil
	}
	return a.names[len(a.names)-1]
}

func runReloader(t *testing.T, r *Reloader) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestReloaderServesTheCachedLayer: a node whose store is unreachable
// when it starts applies the tenant layer it cached, says so, and takes
// the store's when it answers.
func TestReloaderServesTheCachedLayer(t *testing.T) {
	f := newAPI(t, 0)
	f.tenant("acme", "acme.test")
	cache := filepath.Join(t.TempDir(), "tenants.cache")

	// A first run applies the store's layer and caches it.
	first := &applied{}
	ctx, cancel := context.WithCancel(context.Background())
	r1 := &Reloader{Store: f.store, Apply: first.apply, Cache: cache}
	done := make(chan struct{})
	go func() { defer close(done); r1.Run(ctx) }()
	<-r1.Ready()
	cancel()
	<-done
	cached := r1.Status().Revision
	if _, c, err := loadLayer(cache); err != nil || c.Revision != cached {
		t.Fatalf("cache after the first apply: revision %d, %v; want %d", c.Revision, err, cached)
	}

	// Restarted with the store down: the cached layer.
	sw := &switchable{Store: f.store}
	sw.down.Store(true)
	second := &applied{}
	r2 := &Reloader{Store: sw, Apply: second.apply, Cache: cache}
	runReloader(t, r2)
	select {
	case <-r2.Ready():
	case <-time.After(20 * time.Second): // a hang guard, not a bound
		t.Fatal("never ready on the cached layer")
	}
	st := r2.Status()
	if !st.FromCache || st.StoreOK || st.Revision != cached || !slices.Equal(second.last(), []string{"acme"}) {
		t.Fatalf("on the cached layer: status %+v, applied %v", st, second.last())
	}

	// The store answers with a newer layer: it replaces the cached one.
	f.tenant("globex", "globex.test")
	sw.down.Store(false)
	eventually(t, "the store's layer replaces the cached one", func() bool {
		st := r2.Status()
		return !st.FromCache && st.StoreOK && slices.Equal(second.last(), []string{"acme", "globex"})
	})
}

// TestReloaderRefusesADamagedCache: a damaged cache file is reported and
// never applied, not even in part.
func TestReloaderRefusesADamagedCache(t *testing.T) {
	f := newAPI(t, 0)
	cache := filepath.Join(t.TempDir(), "tenants.cache")
	if err := os.WriteFile(cache, []byte(`{"version":1,"revision":5,"sha256":"00","kvs":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	sw := &switchable{Store: f.store}
	sw.down.Store(true)
	var logged atomic.Value
	log := slog.New(logFunc(func(r slog.Record) {
		if strings.Contains(r.Message, "cached on disk was not applied") {
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "err" {
					logged.Store(a.Value.String())
				}
				return true
			})
		}
	}))
	got := &applied{}
	r := &Reloader{Store: sw, Apply: got.apply, Cache: cache, Logger: log}
	runReloader(t, r)
	eventually(t, "the damaged cache is reported", func() bool { return logged.Load() != nil })
	if msg := logged.Load().(string); !strings.Contains(msg, "checksum mismatch") {
		t.Errorf("logged %q", msg)
	}
	if got.last() != nil || r.Status().Ready {
		t.Fatalf("a damaged cache was applied: %v, %+v", got.last(), r.Status())
	}
}

// logFunc is a slog.Handler calling f for each record.
type logFunc func(slog.Record)

func (h logFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (h logFunc) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h logFunc) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h logFunc) WithGroup(string) slog.Handler                 { return h }
