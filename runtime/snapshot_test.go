package runtime

import (
	"context"
	"sync"
	"testing"
)

// TestPluginSnapshotInstances: a plugin's first instance runs
// initialisation and on_configure; the module keeps a snapshot of memory
// after _initialize, the plugin one after on_configure, and its further
// instances start from the plugin's snapshot without running the guest.
// Every instance must then behave as the first: the Go SDK filter (its
// configuration parsed into the Go heap) and a WAT filter (its
// configuration in a global and linear memory).
func TestPluginSnapshotInstances(t *testing.T) {
	tests := []struct {
		dir, module, config string
		check               func(h *testHost) bool
	}{
		{"filters", "headers", headersConfig, func(h *testHost) bool {
			return header(h.req, "x-from-filter") == "yes" && header(h.resp, "x-filtered") == "1"
		}},
		{"wat", "config_echo", "ok", func(h *testHost) bool {
			return header(h.req, "x-config") == "ok"
		}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.module, func(t *testing.T) {
			e := newTestEngine(t)
			p := startPlugin(t, e, tt.dir, tt.module, PluginConfig{Config: []byte(tt.config), Limits: Limits{Instances: 3}})
			m := p.m
			m.snapMu.Lock()
			msnap := m.snap
			m.snapMu.Unlock()
			if msnap == nil {
				t.Error("no module snapshot after the first instance")
			}
			psnap := p.snapshot()
			if psnap == nil {
				t.Fatal("no plugin snapshot after the first instance")
			}
			if n := p.Instances(); n != 1 {
				t.Errorf("Instances() = %d before any stream, want 1", n)
			}

			stream := func() (*instance, error) {
				h := getRequest("/snap")
				s, err := p.NewStream(ctx, h)
				if err != nil {
					return nil, err
				}
				defer s.Close()
				in := s.in
				if _, err := s.RequestHeaders(ctx, true); err != nil {
					return in, err
				}
				h.setResponse([2]string{":status", "200"})
				if _, err := s.ResponseHeaders(ctx, true); err != nil {
					return in, err
				}
				if !tt.check(h) {
					t.Errorf("instance %p did not apply the configuration: request %v, response %v", in, *h.req, *h.resp)
				}
				return in, nil
			}
			// Sequential streams round-robin over the slots.
			seen := map[*instance]bool{}
			for range 6 {
				in, err := stream()
				if err != nil {
					t.Fatal(err)
				}
				seen[in] = true
			}
			if len(seen) != 3 {
				t.Errorf("6 sequential streams ran on %d instances, want 3", len(seen))
			}
			restored := 0
			for in := range seen {
				if in.lin.snap == psnap.snap {
					restored++
				}
			}
			if restored != 2 {
				t.Errorf("%d instances started from the plugin snapshot, want 2 (all but the first)", restored)
			}
			// And concurrently, on the same three.
			var wg sync.WaitGroup
			var mu sync.Mutex
			for range 3 {
				wg.Go(func() {
					for range 20 {
						in, err := stream()
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						seen[in] = true
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(seen) != 3 || p.Instances() != 3 {
				t.Errorf("%d instances used, %d live; want 3", len(seen), p.Instances())
			}
			if n := p.Crashes(); n != 0 {
				t.Errorf("Crashes() = %d", n)
			}
		})
	}
}
