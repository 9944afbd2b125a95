package runtime

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hostile.wat misbehaves in the callback its configuration names: it
// traps, loops, or grows its memory to the limit (then traps, or returns
// quietly). The host must contain each: no panic, the right error, the
// instance discarded, and the plugin and its neighbours still serving.

// hostileLimits are small so a loop is cut quickly and a memory bomb
// stops early. InitDeadline is set apart from CallDeadline so a test sees
// which one bounded on_vm_start and on_configure.
var hostileLimits = Limits{CallDeadline: 50 * time.Millisecond, InitDeadline: 100 * time.Millisecond, MemoryPages: 64, Instances: 1}

// healthyLimits are for the well-behaved plugins the tests compare with:
// a deadline no loaded machine reaches, so a test never depends on how
// fast a healthy call runs.
var healthyLimits = Limits{CallDeadline: 10 * time.Second, Instances: 1}

// hostileCallbacks are the callbacks hostile.wat can target, with the
// export each names.
var hostileCallbacks = []struct{ target, export string }{
	{"vm_start", "proxy_on_vm_start"},
	{"configure", "proxy_on_configure"},
	{"context_create", "proxy_on_context_create"},
	{"request_headers", "proxy_on_request_headers"},
	{"request_body", "proxy_on_request_body"},
	{"response_headers", "proxy_on_response_headers"},
	{"response_body", "proxy_on_response_body"},
	{"done", "proxy_on_done"},
	{"delete", "proxy_on_delete"},
}

// hostileActions and the failure each must be reported as. growquiet
// returns normally after its last memory.grow failed, but that grow asked
// for more than the limit: Wedge fails the call (Memory) and discards the
// instance rather than let it serve at its limit.
var hostileActions = []struct {
	action string
	kind   FailureKind
}{
	{"trap", Trap},
	{"loop", Deadline},
	{"grow", Memory},
	{"growquiet", Memory},
}

// hostileStream runs one whole stream through p, with request and response
// bodies, and returns the first error and the callback-level result.
func hostileStream(ctx context.Context, p *Plugin) (h *testHost, err error) {
	h = getRequest("/hostile")
	s, err := p.NewStream(ctx, h)
	if err != nil {
		return h, err
	}
	defer s.Close()
	return h, driveStream(ctx, s, h)
}

// driveStream runs every callback of a request with bodies.
func driveStream(ctx context.Context, s *Stream, h *testHost) error {
	if _, err := s.RequestHeaders(ctx, false); err != nil {
		return err
	}
	if _, _, err := s.RequestBody(ctx, []byte("ping"), true); err != nil {
		return err
	}
	h.setResponse([2]string{":status", "200"})
	if _, err := s.ResponseHeaders(ctx, false); err != nil {
		return err
	}
	_, _, err := s.ResponseBody(ctx, []byte("pong"), true)
	return err
}

// checkFilterError checks err is a *FilterError of kind from callback.
func checkFilterError(t *testing.T, err error, kind FailureKind, callback string) {
	t.Helper()
	var fe *FilterError
	if !errors.As(err, &fe) {
		t.Fatalf("error %T %v, want a *FilterError", err, err)
	}
	if fe.Kind != kind || KindOf(err) != kind {
		t.Errorf("Kind = %v, want %v (%v)", fe.Kind, kind, err)
	}
	if fe.Callback != callback {
		t.Errorf("Callback = %q, want %q (%v)", fe.Callback, callback, err)
	}
	if !strings.Contains(err.Error(), callback) || !strings.Contains(err.Error(), kind.String()) {
		t.Errorf("message %q does not name %s and %q", err, callback, kind)
	}
}

// TestHostileMatrix: every callback × every misbehaviour.
func TestHostileMatrix(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	m, err := e.Compile(ctx, readBuilt(t, "wat", "hostile"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	limitBytes := hostileLimits.MemoryPages * 65536

	// The well-behaved plugin on the same module and engine, used after
	// each failure.
	okPlugin, err := e.NewPlugin(ctx, m, PluginConfig{Name: "ok", Config: []byte("ok"), Limits: healthyLimits})
	if err != nil {
		t.Fatal(err)
	}
	defer okPlugin.Close(ctx)
	okServes := func(t *testing.T) {
		t.Helper()
		h, err := hostileStream(ctx, okPlugin)
		if err != nil {
			t.Fatalf("the well-behaved plugin failed: %v", err)
		}
		if got := header(h.req, "x-hostile"); got != "ok" {
			t.Errorf("well-behaved plugin: x-hostile = %q, want ok", got)
		}
	}

	for _, cb := range hostileCallbacks {
		for _, act := range hostileActions {
			config := act.action + ":" + cb.target
			t.Run(config, func(t *testing.T) {
				live := liveInstances(m)
				pc := PluginConfig{Name: "hostile", Config: []byte(config), Limits: hostileLimits}
				p, err := e.NewPlugin(ctx, m, pc)
				switch cb.target {
				case "vm_start", "configure":
					// Wedge lets on_vm_start read the plugin
					// configuration (buffer 7), so *:vm_start fires.
					if err == nil {
						p.Close(ctx)
						t.Fatal("NewPlugin accepted a plugin that fails at start")
					}
					checkFilterError(t, err, act.kind, cb.export)
					if act.kind == Deadline && !strings.Contains(err.Error(), "longer than 100ms") {
						t.Errorf("%q: not bounded by the InitDeadline (100ms)", err)
					}
					if n := liveInstances(m); n != live {
						t.Errorf("%d live instances after the refusal, %d before", n, live)
					}
					okServes(t)
					return
				}
				if err != nil {
					t.Fatalf("NewPlugin: %v", err)
				}
				defer p.Close(ctx)

				h := getRequest("/hostile")
				s, err := p.NewStream(ctx, h)
				if cb.target == "context_create" {
					if err == nil {
						s.Close()
						t.Fatal("NewStream succeeded")
					}
					checkFilterError(t, err, act.kind, cb.export)
				} else {
					if err != nil {
						t.Fatalf("NewStream: %v", err)
					}
					mem := s.in.mem // still readable for its size once discarded
					err = driveStream(ctx, s, h)
					switch cb.target {
					case "done", "delete":
						if err != nil {
							t.Fatalf("a stream callback failed: %v", err)
						}
						if got := header(h.req, "x-hostile"); got != config {
							t.Errorf("x-hostile = %q, want %q", got, config)
						}
						s.Close() // the failure is here: logged, the instance discarded
					default:
						checkFilterError(t, err, act.kind, cb.export)
						s.Close()
					}
					if got := mem.Size(); got > limitBytes {
						t.Errorf("memory reached %d bytes, over the %d-byte limit", got, limitBytes)
					} else if act.kind == Memory && got != limitBytes {
						t.Errorf("memory at %d bytes after the bomb, want exactly the limit %d", got, limitBytes)
					}
				}
				if n := p.Crashes(); n != 1 {
					t.Errorf("Crashes() = %d after one failure, want 1", n)
				}
				if n := p.Instances(); n != 0 {
					t.Errorf("Instances() = %d after the failure, want 0 (discarded)", n)
				}

				// Other plugins of the module are unaffected.
				okServes(t)

				// The same plugin: the first failure in a row is
				// replaced at once, by a fresh instance.
				h = getRequest("/again")
				s, err = p.NewStream(ctx, h)
				if cb.target == "context_create" {
					// Every instance fails there: the fresh one too.
					if err == nil {
						s.Close()
						t.Fatal("NewStream succeeded on a fresh instance")
					}
					checkFilterError(t, err, act.kind, cb.export)
					if n := p.Crashes(); n != 2 {
						t.Errorf("Crashes() = %d, want 2", n)
					}
					return
				}
				if err != nil {
					t.Fatalf("NewStream after the failure: %v", err)
				}
				if n := p.Instances(); n != 1 {
					t.Errorf("Instances() = %d on the fresh instance, want 1", n)
				}
				if _, err := s.RequestHeaders(ctx, true); cb.target == "request_headers" {
					checkFilterError(t, err, act.kind, cb.export)
				} else if err != nil {
					t.Errorf("fresh instance: %v", err)
				} else if got := header(h.req, "x-hostile"); got != config {
					t.Errorf("fresh instance: x-hostile = %q, want %q", got, config)
				}
				s.Close()
				want := int64(1)
				switch cb.target {
				case "request_headers", "done", "delete": // failed again
					want = 2
				}
				if n := p.Crashes(); n != want {
					t.Errorf("Crashes() = %d, want %d", n, want)
				}
			})
		}
	}
}

// TestHostileVMConfiguration: on_vm_start reads its VM configuration
// (buffer 6), as the spec has it, and a failure there refuses the plugin.
func TestHostileVMConfiguration(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	m, err := e.Compile(ctx, readBuilt(t, "wat", "hostile"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	p, err := e.NewPlugin(ctx, m, PluginConfig{Name: "vm", Config: []byte("ok"), VMConfig: []byte("trap:vm_start"), Limits: hostileLimits})
	if err == nil {
		p.Close(ctx)
		t.Fatal("NewPlugin accepted a VM whose on_vm_start traps")
	}
	checkFilterError(t, err, Trap, "proxy_on_vm_start")
}

// TestHostileBackoff: a plugin whose every request crashes is replaced at
// once the first time, then backed off: requests fail fast with
// Unavailable instead of re-instantiating in a hot loop.
func TestHostileBackoff(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	p := startPlugin(t, e, "wat", "hostile", PluginConfig{Config: []byte("trap:request_headers"), Limits: hostileLimits})
	const requests = 300
	kinds := map[FailureKind]int{}
	start := time.Now()
	for range requests {
		s, err := p.NewStream(ctx, getRequest("/"))
		if err == nil {
			_, err = s.RequestHeaders(ctx, true)
			s.Close()
		}
		if err == nil {
			t.Fatal("a request got through a filter that traps on every request")
		}
		kinds[KindOf(err)]++
		if KindOf(err) == Unavailable && !strings.Contains(err.Error(), "keep failing") {
			t.Errorf("Unavailable error %q does not say why", err)
		}
	}
	elapsed := time.Since(start)
	// Back-off: the 1st failure is replaced at once, the 2nd waits 50 ms,
	// then 100, 200, ... Within elapsed, at most this many instances can
	// have been made (one more for a wait that ended in the last moment).
	maxCrashes := int64(2)
	for wait, total := 50*time.Millisecond, time.Duration(0); total+wait <= elapsed; wait *= 2 {
		total += wait
		maxCrashes++
	}
	maxCrashes++
	crashes := p.Crashes()
	t.Logf("%d requests in %v: %v; %d crashes", requests, elapsed, kinds, crashes)
	if crashes < 2 || crashes > maxCrashes {
		t.Errorf("Crashes() = %d in %v, want 2..%d", crashes, elapsed, maxCrashes)
	}
	if int64(kinds[Trap]) != crashes {
		t.Errorf("%d Trap errors for %d crashes", kinds[Trap], crashes)
	}
	if kinds[Unavailable] != requests-int(crashes) {
		t.Errorf("%d Unavailable errors, want every request but the crashes: %v", kinds[Unavailable], kinds)
	}

	// Once the wait is over, one more instance is tried; when it fails
	// too, the next wait is twice as long.
	prev := retryAt(p)
	time.Sleep(time.Until(prev))
	for range 3 {
		s, err := p.NewStream(ctx, getRequest("/"))
		if err == nil {
			_, err = s.RequestHeaders(ctx, true)
			s.Close()
		}
		if err == nil {
			t.Fatal("a request got through")
		}
	}
	if n := p.Crashes(); n != crashes+1 {
		t.Errorf("Crashes() = %d after the wait, want %d (one more instance tried)", n, crashes+1)
	}
	// The third failure in a row (or later) waits at least 100 ms, from a
	// failure that came after prev.
	if d := retryAt(p).Sub(prev); d < 100*time.Millisecond {
		t.Errorf("next attempt %v after the previous one, want the wait doubled (>= 100ms)", d)
	}
}

// retryAt is when p next tries a fresh instance.
func retryAt(p *Plugin) time.Time {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	return p.retryAt
}

// TestHostileBackoffResets: a stream that completes cleanly ends a
// plugin's run of failures, so its next failure is replaced at once
// rather than backed off.
func TestHostileBackoffResets(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	p := startPlugin(t, e, "wat", "hostile", PluginConfig{Config: []byte("trap:request_body"), Limits: hostileLimits})
	// withBody sends a body (the filter traps); without, the stream is clean.
	request := func(withBody bool) error {
		s, err := p.NewStream(ctx, getRequest("/"))
		if err != nil {
			return err
		}
		defer s.Close()
		if _, err := s.RequestHeaders(ctx, !withBody); err != nil || !withBody {
			return err
		}
		_, _, err = s.RequestBody(ctx, []byte("x"), true)
		return err
	}
	for i := range 2 {
		if err := request(true); KindOf(err) != Trap {
			t.Fatalf("failure %d: %v, want a trap", i+1, err)
		}
	}
	if err := request(false); KindOf(err) != Unavailable {
		t.Fatalf("after two failures in a row: %v, want Unavailable", err)
	}
	time.Sleep(time.Until(retryAt(p)))
	if err := request(false); err != nil {
		t.Fatalf("a clean stream after the wait: %v", err)
	}
	for i := range 3 { // each failure is the first in a row: replaced at once
		if err := request(true); KindOf(err) != Trap {
			t.Fatalf("failure after a clean stream: %v, want a trap (not backed off)", err)
		}
		if err := request(false); err != nil {
			t.Fatalf("clean stream %d: %v", i, err)
		}
	}
	if n := p.Crashes(); n != 5 {
		t.Errorf("Crashes() = %d, want 5", n)
	}
}

// TestHostileIsolation: while one plugin's guest loops forever (until its
// deadline) the engine's other plugins keep serving: a good plugin
// completes streams, counted only while the loop is known to be running.
func TestHostileIsolation(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	lim := hostileLimits
	lim.CallDeadline = 200 * time.Millisecond
	bad := startPlugin(t, e, "wat", "hostile", PluginConfig{Name: "bad", Config: []byte("loop:request_headers"), Limits: lim})
	good := startPlugin(t, e, "wat", "hostile", PluginConfig{Name: "good", Config: []byte("ok"), Limits: healthyLimits})

	const want = 50
	for round := range 2 { // twice: the bad plugin's fresh instance loops too
		s, err := bad.NewStream(ctx, getRequest("/"))
		if err != nil {
			t.Fatal(err)
		}
		in := s.in
		done := make(chan error, 1)
		go func() {
			_, err := s.RequestHeaders(ctx, true)
			s.Close()
			done <- err
		}()
		for in.callStart.Load() == 0 { // wait for the guest to be in its loop
			select {
			case err := <-done:
				t.Fatalf("the looping call returned before it started: %v", err)
			default:
				time.Sleep(100 * time.Microsecond)
			}
		}
		completed := 0
		var errLoop error
	serve:
		for {
			h, err := hostileStream(ctx, good)
			if err != nil {
				t.Fatalf("good plugin: %v", err)
			}
			if header(h.req, "x-hostile") != "ok" {
				t.Fatalf("good plugin did not act: %v", *h.req)
			}
			select {
			case errLoop = <-done:
				break serve
			default:
				if in.callStart.Load() == 0 {
					errLoop = <-done
					break serve
				}
				completed++
			}
		}
		t.Logf("round %d: %d streams completed while the other plugin looped", round, completed)
		if completed < want {
			t.Errorf("round %d: only %d streams completed while the other plugin looped, want >= %d", round, completed, want)
		}
		checkFilterError(t, errLoop, Deadline, "proxy_on_request_headers")
	}
	if n := good.Crashes(); n != 0 {
		t.Errorf("good plugin: %d crashes", n)
	}
}

// TestHostileConcurrentLoops: loops on every instance of a plugin at once,
// from several goroutines, are all cut by the deadline, and the plugin
// serves again on fresh instances. (Guest code is not preemptible by Go
// except where wazero checks for a closed module, which the deadline
// relies on.)
func TestHostileConcurrentLoops(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	lim := hostileLimits
	lim.Instances = 3
	m, err := e.Compile(ctx, readBuilt(t, "wat", "hostile"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	p, err := e.NewPlugin(ctx, m, PluginConfig{Name: "loops", Config: []byte("loop:response_headers"), Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	var wg sync.WaitGroup
	var deadlines atomic.Int32
	for range lim.Instances {
		wg.Go(func() {
			h := getRequest("/")
			s, err := p.NewStream(ctx, h)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			if _, err := s.RequestHeaders(ctx, true); err != nil {
				t.Error(err)
				return
			}
			h.setResponse([2]string{":status", "200"})
			_, err = s.ResponseHeaders(ctx, true)
			if KindOf(err) == Deadline {
				deadlines.Add(1)
			} else {
				t.Errorf("ResponseHeaders: %v, want a deadline", err)
			}
		})
	}
	wg.Wait()
	if n := deadlines.Load(); n != int32(lim.Instances) {
		t.Errorf("%d deadlines, want %d", n, lim.Instances)
	}
	if n := p.Crashes(); n != int64(lim.Instances) {
		t.Errorf("Crashes() = %d, want %d", n, lim.Instances)
	}
	// The plugin's instances were all discarded; the first failures in a
	// row may leave it backed off, so wait for a fresh instance.
	okay := func() error {
		s, err := p.NewStream(ctx, getRequest("/"))
		if err != nil {
			return err
		}
		defer s.Close()
		_, err = s.RequestHeaders(ctx, true)
		return err
	}
	var last error
	for wait := time.Millisecond; ; wait *= 2 {
		if last = okay(); last == nil {
			break
		}
		if KindOf(last) != Unavailable || wait > 10*time.Second {
			t.Fatalf("no fresh instance: %v", last)
		}
		time.Sleep(wait)
	}
	if n := p.Instances(); n != 1 {
		t.Errorf("Instances() = %d, want 1", n)
	}
}
