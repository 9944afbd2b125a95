package proxy

import (
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/runtime"
)

// swapServer is a Server with filters, and a build of its one tenant
// whose route runs the add_header module with configuration gen (a new
// gen is a new plugin).
func swapServer(t *testing.T) (*Server, func(gen string) *Snapshot) {
	t.Helper()
	s := New(nil)
	s.UseFilters(Filters{Engine: testEngine(t)})
	t.Cleanup(func() { closeUnused(s.snap.Load(), nil) })
	return s, func(gen string) *Snapshot {
		t.Helper()
		snap, err := s.Build([]config.Tenant{{
			Name:      "t",
			Domains:   []string{"site.test"},
			Upstreams: []config.Upstream{{Name: "origin", Endpoints: []string{"127.0.0.1:9"}}},
			Routes: []config.Route{{Upstream: "origin", Filters: []config.Filter{{
				Name: "stamp", Module: filepath.Join("..", "..", "bin", "wat", "add_header.wasm"),
				Config: config.FilterConfig(gen),
			}}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
}

func onlyPlugin(t *testing.T, snap *Snapshot) *runtime.Plugin {
	t.Helper()
	if len(snap.plugins) != 1 {
		t.Fatalf("snapshot has %d plugins, want 1", len(snap.plugins))
	}
	for _, p := range snap.plugins {
		return p
	}
	return nil
}

// TestSwapKeepsPluginsOfRequestsInFlight: a request holds the snapshot it
// started on, so a swap does not close that snapshot's plugins under it;
// the last request out closes them. Regression: Swap closed them at once,
// and a request that had looked its route up but not yet started its
// filter's stream got 503 "unavailable" (found by make soak).
func TestSwapKeepsPluginsOfRequestsInFlight(t *testing.T) {
	s, build := swapServer(t)
	s.Swap(build("1"))
	held := s.acquire() // a request in flight on generation 1
	old := onlyPlugin(t, held)

	s.Swap(build("2"))
	if cur := onlyPlugin(t, s.snap.Load()); cur == old {
		t.Fatal("a new configuration kept the old plugin")
	}
	if old.Instances() == 0 {
		t.Fatal("the swap closed the plugin of a request in flight")
	}
	again := s.acquire() // a request arriving now gets generation 2
	if again == held {
		t.Fatal("a new request was served on the replaced snapshot")
	}
	s.release(again)

	s.release(held)
	if n := old.Instances(); n != 0 {
		t.Fatalf("the last request on the replaced snapshot ended and its plugin still has %d instances", n)
	}
	if held.tryRef() {
		t.Fatal("a retired snapshot took a new reference")
	}
	// A plugin both snapshots use is not closed by the old one's end.
	s.Swap(build("2"))
	if onlyPlugin(t, s.snap.Load()).Instances() == 0 {
		t.Fatal("a plugin kept by the new snapshot was closed with the old one")
	}
}

// TestSwapUnderLoad: requests that take and drop snapshots while swaps
// run never find a closed plugin in the snapshot they hold.
func TestSwapUnderLoad(t *testing.T) {
	s, build := swapServer(t)
	s.Swap(build("0"))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var closed int
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				snap := s.acquire()
				for _, p := range snap.plugins {
					if p.Instances() == 0 {
						mu.Lock()
						closed++
						mu.Unlock()
					}
				}
				s.release(snap)
			}
		})
	}
	for gen := 1; gen <= 30; gen++ {
		s.Swap(build(strconv.Itoa(gen)))
	}
	close(stop)
	wg.Wait()
	if closed > 0 {
		t.Fatalf("%d times a request held a snapshot whose plugin was closed", closed)
	}
}
