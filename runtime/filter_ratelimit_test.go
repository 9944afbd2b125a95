package runtime

import (
	"context"
	"sync"
	"testing"
	"time"
)

// rateLimitRequest sends one request from addr through p and returns the
// result and the stream's local response (nil when it went on). When the
// request goes on, a 200 response goes through the filter too.
func rateLimitRequest(t *testing.T, p *Plugin, addr string, hdrs ...[2]string) (Result, *LocalResponse) {
	r, lr, _ := rateLimitExchange(t, p, addr, hdrs...)
	return r, lr
}

// rateLimitExchange is rateLimitRequest that also returns the stream's
// host, for its response headers.
func rateLimitExchange(t *testing.T, p *Plugin, addr string, hdrs ...[2]string) (Result, *LocalResponse, *testHost) {
	t.Helper()
	ctx := context.Background()
	h := newTestHost(append([][2]string{{":method", "GET"}, {":path", "/"}}, hdrs...)...)
	h.props["source.address"] = addr
	s, err := p.NewStream(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.RequestHeaders(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if r == Continue {
		h.setResponse([2]string{":status", "200"})
		if r2, err := s.ResponseHeaders(ctx, true); err != nil || r2 != Continue {
			t.Fatalf("response headers: %v, %v", r2, err)
		}
	}
	return r, s.LocalResponse(), h
}

// TestFilterRateLimit runs bin/filters/ratelimit.wasm in the host: the
// instances of one plugin share each client's bucket through shared data,
// plugins of another namespace (tenant) have their own, and a bucket
// refills with the host's clock.
func TestFilterRateLimit(t *testing.T) {
	e := newTestEngine(t)
	cfg := PluginConfig{
		Namespace: "tenant-a",
		Config:    []byte(`{"rate":1,"burst":3,"response_headers":true}`),
		Limits:    Limits{Instances: 2},
	}
	a := startPlugin(t, e, "filters", "ratelimit", cfg)

	const client = "192.0.2.10:40000"
	for i := range 3 {
		// The port changes: the bucket is the IP's.
		r, lr, h := rateLimitExchange(t, a, client[:len(client)-1]+string(rune('0'+i)))
		if r != Continue {
			t.Fatalf("request %d within the burst: %v %+v", i, r, lr)
		}
		if got, want := header(h.resp, "x-ratelimit-remaining"), string(rune('2'-i)); got != want || header(h.resp, "x-ratelimit-limit") != "3" {
			t.Errorf("response %d: X-RateLimit-Limit %q, X-RateLimit-Remaining %q; want 3 and %s",
				i, header(h.resp, "x-ratelimit-limit"), got, want)
		}
	}
	if n := a.Instances(); n != 2 {
		t.Fatalf("%d instances served the burst, want 2 (the test needs streams on both)", n)
	}
	r, lr := rateLimitRequest(t, a, client)
	if r != Respond || lr == nil {
		t.Fatalf("request over the burst went on (%v): the instances do not share the bucket", r)
	}
	if lr.Status != 429 || header(&lr.Headers, "retry-after") != "1" ||
		header(&lr.Headers, "x-ratelimit-limit") != "3" || header(&lr.Headers, "x-ratelimit-remaining") != "0" {
		t.Errorf("over the limit: %d %v, want 429 with Retry-After 1 and the X-RateLimit headers", lr.Status, lr.Headers)
	}
	if r, _ := rateLimitRequest(t, a, "192.0.2.11:1"); r != Continue {
		t.Errorf("another client was limited: %v", r)
	}

	// Another plugin of the same tenant and name shares the buckets; one
	// of another tenant does not.
	same := startPlugin(t, e, "filters", "ratelimit", cfg)
	if r, _ := rateLimitRequest(t, same, client); r != Respond {
		t.Errorf("a second plugin of the same namespace and bucket name: %v, want the shared bucket's 429", r)
	}
	other := cfg
	other.Namespace = "tenant-b"
	b := startPlugin(t, e, "filters", "ratelimit", other)
	if r, lr := rateLimitRequest(t, b, client); r != Continue {
		t.Errorf("a plugin of another namespace was limited by tenant-a's bucket: %v %+v", r, lr)
	}

	// A token comes back after a second of the host's clock.
	time.Sleep(1100 * time.Millisecond)
	if r, lr := rateLimitRequest(t, a, client); r != Continue {
		t.Errorf("after 1.1s the bucket has not refilled: %v %+v", r, lr)
	}
	for _, p := range []*Plugin{a, same, b} {
		if n := p.Crashes(); n != 0 {
			t.Errorf("plugin %s: %d instances crashed", p.Name(), n)
		}
	}
}

// TestFilterRateLimitHeaderKey limits by a request header's value.
func TestFilterRateLimitHeaderKey(t *testing.T) {
	e := newTestEngine(t)
	p := startPlugin(t, e, "filters", "ratelimit", PluginConfig{
		Config: []byte(`{"rate":1,"period":"1h","burst":1,"response_headers":true,"key":{"source":"header","header":"x-api-key","missing":"deny"}}`),
		Limits: Limits{Instances: 1},
	})
	if r, _ := rateLimitRequest(t, p, "192.0.2.1:1", [2]string{"x-api-key", "k1"}); r != Continue {
		t.Fatalf("first request of k1: %v", r)
	}
	r, lr := rateLimitRequest(t, p, "192.0.2.2:1", [2]string{"x-api-key", "k1"})
	if r != Respond || lr.Status != 429 || header(&lr.Headers, "retry-after") != "3600" {
		t.Fatalf("second request of k1 from another IP: %v %+v, want 429 with Retry-After 3600", r, lr)
	}
	if r, _ := rateLimitRequest(t, p, "192.0.2.1:1", [2]string{"x-api-key", "k2"}); r != Continue {
		t.Errorf("k2 was limited by k1's bucket: %v", r)
	}
	if r, lr := rateLimitRequest(t, p, "192.0.2.1:1"); r != Respond || lr.Status != 400 {
		t.Errorf("no key with missing: deny: %v %+v, want 400", r, lr)
	}
}

// TestFilterRateLimitConcurrent sends requests of one client from several
// goroutines on two instances at once: the compare-and-swap loop must let
// exactly the burst through, no more.
func TestFilterRateLimitConcurrent(t *testing.T) {
	e := newTestEngine(t)
	const burst = 300
	p := startPlugin(t, e, "filters", "ratelimit", PluginConfig{
		Config: []byte(`{"rate":1,"period":"1h","burst":300}`),
		Limits: Limits{Instances: 2},
	})
	const client = "192.0.2.20:1"
	// The first request creates the bucket (creation has no CAS).
	if r, _ := rateLimitRequest(t, p, client); r != Continue {
		t.Fatalf("first request: %v", r)
	}
	var (
		mu      sync.Mutex
		allowed = 1
		wg      sync.WaitGroup
	)
	ctx := context.Background()
	for range 4 {
		wg.Go(func() {
			for range 100 {
				h := newTestHost([2]string{":method", "GET"}, [2]string{":path", "/"})
				h.props["source.address"] = client
				s, err := p.NewStream(ctx, h)
				if err != nil {
					t.Error(err)
					return
				}
				r, err := s.RequestHeaders(ctx, true)
				s.Close()
				if err != nil {
					t.Error(err)
					return
				}
				if r == Continue {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if n := p.Instances(); n != 2 {
		t.Errorf("%d instances, want 2", n)
	}
	if allowed != burst {
		t.Errorf("%d of 401 requests allowed, want exactly the burst, %d", allowed, burst)
	}
}
