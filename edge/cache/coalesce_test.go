package cache

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// 100 concurrent misses for one key make exactly one upstream request;
// all get the body.
func TestCoalesce100(t *testing.T) {
	gate := make(chan struct{})
	e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		<-gate
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("shared"))
	})
	const n = 100
	var wg sync.WaitGroup
	results := make([]resp, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.get("/hot")
		}()
	}
	// Let the requests arrive and queue behind the leader.
	for e.origin.hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(gate)
	wg.Wait()
	if got := e.origin.hits.Load(); got != 1 {
		t.Fatalf("origin saw %d requests, want 1", got)
	}
	stored := 0
	for i, r := range results {
		if r.status != 200 || r.body != "shared" {
			t.Fatalf("request %d: %d %q", i, r.status, r.body)
		}
		if r.cs() == "wedge; fwd=uri-miss; stored" {
			stored++
		}
	}
	if stored != 1 {
		t.Fatalf("%d leaders", stored)
	}
}

// When the leader's response cannot be stored, waiters go upstream, each
// on its own.
func TestCoalesceNotStorable(t *testing.T) {
	var inflight, maxInflight atomic.Int32
	gate := make(chan struct{})
	e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			m := maxInflight.Load()
			if n <= m || maxInflight.CompareAndSwap(m, n) {
				break
			}
		}
		<-gate
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("private"))
	})
	const n = 10
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := e.get("/p"); r.body != "private" {
				t.Errorf("body %q", r.body)
			}
		}()
	}
	for e.origin.hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := e.origin.hits.Load(); got != 1 {
		t.Fatalf("before the leader finished, %d upstream requests", got)
	}
	close(gate)
	wg.Wait()
	if got := e.origin.hits.Load(); got != n {
		t.Fatalf("origin saw %d requests, want %d", got, n)
	}
}

// Waiters give up after CoalesceWait and go upstream themselves.
func TestCoalesceWaitBound(t *testing.T) {
	slow := make(chan struct{})
	var first atomic.Bool
	e := newEnv(t, Policy{CoalesceWait: 20 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			<-slow
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("x"))
	})
	done := make(chan struct{})
	go func() { e.get("/w"); close(done) }()
	for e.origin.hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	r := e.get("/w")
	if r.body != "x" || time.Since(start) > 2*time.Second || e.origin.hits.Load() != 2 {
		t.Fatalf("waiter: %q after %v, origin hits %d", r.body, time.Since(start), e.origin.hits.Load())
	}
	close(slow)
	<-done
}
