package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/runtime"
)

// The live-reload tests run a real node (embedded store, admin API,
// HTTP listener) against real loopback origins and change it only through
// the admin API, as a tenant would.

const leakOpToken = "operator-secret"

// origin is a loopback origin that counts its open connections. GET
// /slow waits for release; everything else answers at once and echoes
// what the filters added to the request.
type origin struct {
	srv     *httptest.Server
	name    string
	open    atomic.Int64 // connections not yet closed
	entered chan struct{}
	release chan struct{}
}

// newOrigin starts an origin; its slow requests signal entered and wait
// for release, channels its caller may share between origins.
func newOrigin(t *testing.T, name string, entered, release chan struct{}) *origin {
	o := &origin{name: name, entered: entered, release: release}
	o.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" || r.URL.Path == "/check-slow" {
			o.entered <- struct{}{}
			select {
			case <-o.release:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("X-Origin", o.name)
		w.Header().Set("X-Saw-Wat", r.Header.Get("X-Wat"))
		w.Header().Set("X-Saw-Config", r.Header.Get("X-Config"))
		io.WriteString(w, "from "+o.name)
	}))
	o.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			o.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			o.open.Add(-1)
		}
	}
	o.srv.Start()
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) addr() string { return o.srv.Listener.Addr().String() }

// liveNode is a node served in-process, with clients for its admin API
// and its HTTP listener.
type liveNode struct {
	t      *testing.T
	n      *Node
	admin  string
	front  string
	adminC *http.Client
	frontC *http.Client
}

func startLiveNode(t *testing.T) *liveNode {
	t.Helper()
	dir := t.TempDir()
	// The compilation cache is shared between runs, as the control tests
	// share theirs: compiling a 3.5 MB Go filter afresh under -race takes
	// longer than the admin API's 10 s budget for a request.
	shared := filepath.Join(os.TempDir(), "wedge-test-wasm-cache")
	precompile(t, shared, goFilters...)
	if err := os.Symlink(shared, filepath.Join(dir, "wasm-cache")); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		DataDir:   dir,
		NodeName:  "leak-test",
		Admin:     "127.0.0.1:0",
		Listeners: []config.Listener{{Name: "http", Address: "127.0.0.1:0"}},
		Egress:    allowLoopback,
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n, err := New(cfg, slog.New(slog.DiscardHandler), leakOpToken)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Serve() }()
	l := &liveNode{
		t: t, n: n,
		admin:  "http://" + n.AdminAddr().String(),
		front:  "http://" + n.Addrs()[0].String(),
		adminC: &http.Client{Transport: &http.Transport{}},
		frontC: &http.Client{Transport: &http.Transport{}},
	}
	t.Cleanup(func() {
		l.adminC.CloseIdleConnections()
		l.frontC.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-n.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("the node never became ready")
	}
	return l
}

// call sends one admin API request; it must answer one of want. A write
// waits until the node serves the revision it committed.
func (l *liveNode) call(method, path, token, ctype string, body []byte, want ...int) string {
	l.t.Helper()
	req, err := http.NewRequest(method, l.admin+path, bytes.NewReader(body))
	if err != nil {
		l.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := l.adminC.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ok := false
	for _, w := range want {
		ok = ok || resp.StatusCode == w
	}
	if !ok {
		l.t.Fatalf("%s %s: %d %s, want %v", method, path, resp.StatusCode, b, want)
	}
	if h := resp.Header.Get("X-Wedge-Revision"); h != "" {
		rev, err := strconv.ParseInt(h, 10, 64)
		if err != nil {
			l.t.Fatalf("X-Wedge-Revision %q", h)
		}
		l.settle(rev)
	}
	return string(b)
}

// settle waits until the node serves store revision rev.
func (l *liveNode) settle(rev int64) {
	l.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for l.n.Status().Revision < rev {
		if time.Now().After(deadline) {
			l.t.Fatalf("the node never applied revision %d: %+v", rev, l.n.Status())
		}
		time.Sleep(time.Millisecond)
	}
}

// get sends GET path to the node for host and returns the response, its
// body read.
func (l *liveNode) get(host, path string) (*http.Response, string, error) {
	req, err := http.NewRequest("GET", l.front+path, nil)
	if err != nil {
		return nil, "", err
	}
	req.Host = host
	resp, err := l.frontC.Do(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// goFilters are the Go-built filters the tests upload.
var goFilters = []string{"bin/filters/headers.wasm", "bin/filters/rewrite.wasm", "bin/filters/extauth.wasm"}

// precompile fills the compilation cache in dir with modules, so a cold
// cache does not spend the admin API's time budget.
func precompile(t *testing.T, dir string, modules ...string) {
	t.Helper()
	ctx := context.Background()
	e, err := runtime.NewEngine(ctx, runtime.Config{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	for _, rel := range modules {
		m, err := e.Compile(ctx, wasmFile(t, rel))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		m.Close(ctx)
	}
}

func wasmFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatalf("%v (run make wat filters)", err)
	}
	return b
}

// usage is what the process and the node hold at one moment.
type usage struct {
	stats      runtime.Stats
	goroutines int
	heapAlloc  uint64
	heapInuse  uint64
	fds        int
	originConn int64
}

func (u usage) String() string {
	return fmt.Sprintf("modules %d, plugins %d, instances %d, goroutines %d, heap alloc %.1f MiB, heap in use %.1f MiB, fds %d, origin connections %d",
		u.stats.Modules, u.stats.Plugins, u.stats.Instances, u.goroutines,
		float64(u.heapAlloc)/(1<<20), float64(u.heapInuse)/(1<<20), u.fds, u.originConn)
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1 // not Linux: not compared
	}
	return len(ents)
}

func measure(l *liveNode, origins []*origin) usage {
	l.adminC.CloseIdleConnections()
	l.frontC.CloseIdleConnections()
	goruntime.GC()
	debug.FreeOSMemory()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	u := usage{stats: l.n.wasm.Stats(), goroutines: goruntime.NumGoroutine(),
		heapAlloc: ms.HeapAlloc, heapInuse: ms.HeapInuse, fds: openFDs()}
	for _, o := range origins {
		u.originConn += o.open.Load()
	}
	return u
}

// The routes every change is a variation of: one route through both
// filters to pool. instances: 2 makes the instance count of a warmed-up
// plugin exact.
func leakConfig(pool string, endpoints []string, gen int) []byte {
	eps := `"` + strings.Join(endpoints, `","`) + `"`
	return fmt.Appendf(nil, `{"upstreams":[{"name":%q,"endpoints":[%s]}],
"routes":[{"upstream":%q,"filters":[
  {"name":"stamp","module":"stamp","config":"ok","limits":{"instances":2}},
  {"name":"hdr","module":"hdr","config":{"response":{"set":{"x-gen":"%d"}}},"limits":{"instances":2}}]}]}`,
		pool, eps, pool, gen)
}

func leakRoutes(pool string, gen int) []byte {
	return fmt.Appendf(nil, `{"routes":[{"upstream":%q,"filters":[
  {"name":"stamp","module":"stamp","config":"ok","limits":{"instances":2}},
  {"name":"hdr","module":"hdr","config":{"response":{"set":{"x-gen":"%d"}}},"limits":{"instances":2}}]}]}`,
		pool, gen)
}

// TestReloadLeaksNothing applies 200 changes through the admin API —
// filter uploads, route tables that restart filters, new pools — with
// requests between them and some in flight across a swap, then checks
// that the node holds what it held before for the same configuration:
// plugins, instances, modules, goroutines, file descriptors, origin
// connections, and heap within a few MiB.
func TestReloadLeaksNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("200 live reloads")
	}
	entered, release := make(chan struct{}, 1), make(chan struct{})
	origins := []*origin{newOrigin(t, "o0", entered, release), newOrigin(t, "o1", entered, release), newOrigin(t, "o2", entered, release)}
	l := startLiveNode(t)
	wasm := "application/wasm"
	stampMods := [][]byte{wasmFile(t, "bin/wat/add_header.wasm"), wasmFile(t, "bin/wat/config_echo.wasm")}
	spareMods := [][]byte{wasmFile(t, "bin/filters/rewrite.wasm"), wasmFile(t, "bin/filters/extauth.wasm")}
	headers := wasmFile(t, "bin/filters/headers.wasm")

	l.call("PUT", "/v1/tenants/acme", leakOpToken, "", nil, 201)
	l.call("PUT", "/v1/tenants/acme/domains/acme.test", leakOpToken, "", nil, 201)
	var tok struct{ Token string }
	body := l.call("POST", "/v1/tenants/acme/tokens", leakOpToken, "application/json", []byte(`{"description":"reload test"}`), 201)
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %s", body)
	}
	acme := tok.Token

	l.call("PUT", "/v1/tenants/acme/filters/stamp", acme, wasm, stampMods[0], 201)
	l.call("PUT", "/v1/tenants/acme/filters/hdr", acme, wasm, headers, 201)
	l.call("PUT", "/v1/tenants/acme/config", acme, "application/json", leakConfig("web-0", []string{origins[0].addr()}, 0), 200)

	stamp := 0 // index of stampMods in force
	gen := 0   // x-gen the hdr filter sets
	pool, endpoints := "web-0", map[string]bool{"o0": true}

	// check sends a request and checks it went through the snapshot in
	// force: both filters, and an endpoint of the current pool.
	check := func(when string) {
		t.Helper()
		resp, b, err := l.get("acme.test", "/x")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", when, resp.StatusCode, b)
		}
		if g := resp.Header.Get("X-Gen"); g != strconv.Itoa(gen) {
			t.Fatalf("%s: x-gen %q, want %d", when, g, gen)
		}
		if o := resp.Header.Get("X-Origin"); !endpoints[o] {
			t.Fatalf("%s: answered by %q, pool %s is %v", when, o, pool, endpoints)
		}
		wat, cfg := resp.Header.Get("X-Saw-Wat"), resp.Header.Get("X-Saw-Config")
		if stamp == 0 && wat != "1" || stamp == 1 && cfg != "ok" {
			t.Fatalf("%s: the origin saw x-wat %q, x-config %q with stamp version %d", when, wat, cfg, stamp)
		}
	}
	warm := func() {
		t.Helper()
		for range 8 {
			check("warm-up")
		}
	}
	// inFlight starts a slow request, applies change while it waits at
	// the origin, and checks that it completes on the snapshot it started
	// on (the old x-gen, set by the old hdr plugin on the response).
	inFlight := func(change func()) {
		t.Helper()
		wantGen := strconv.Itoa(gen)
		type result struct {
			resp *http.Response
			body string
			err  error
		}
		res := make(chan result, 1)
		go func() {
			resp, b, err := l.get("acme.test", "/slow")
			res <- result{resp, b, err}
		}()
		select {
		case <-entered:
		case r := <-res:
			t.Fatalf("the slow request ended early: %v %v", r.err, r.body)
		}
		change()
		release <- struct{}{}
		r := <-res
		if r.err != nil {
			t.Fatalf("request in flight across a swap: %v", r.err)
		}
		if r.resp.StatusCode != 200 || r.resp.Header.Get("X-Gen") != wantGen {
			t.Fatalf("request in flight across a swap: %d x-gen %q, want 200 on the old snapshot (x-gen %s): %s",
				r.resp.StatusCode, r.resp.Header.Get("X-Gen"), wantGen, r.body)
		}
	}

	warm()
	inFlight(func() {
		gen++
		l.call("PUT", "/v1/tenants/acme/routes", acme, "application/json", leakRoutes(pool, gen), 200)
	})
	warm()
	base := measure(l, origins)
	// Let goroutines of the warm-up (closed connections) finish.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if u := measure(l, origins); u.goroutines >= base.goroutines {
			break
		} else {
			base = u
		}
	}
	t.Logf("baseline: %v", base)

	const changes = 200
	for i := 1; i < changes; i++ {
		apply := func() {}
		switch i % 4 {
		case 0: // a new version of a filter the route uses
			stamp = 1 - stamp
			apply = func() { l.call("PUT", "/v1/tenants/acme/filters/stamp", acme, wasm, stampMods[stamp], 201) }
		case 1: // a route table that restarts a filter with a new configuration
			apply = func() {
				gen++
				l.call("PUT", "/v1/tenants/acme/routes", acme, "application/json", leakRoutes(pool, gen), 200)
			}
		case 2: // a new pool, with other endpoints, and the routes moved to it
			apply = func() {
				gen++
				pool = fmt.Sprintf("web-%d", i)
				other := origins[1+i%2]
				picked := []string{origins[0].addr(), other.addr()}
				endpoints = map[string]bool{"o0": true, other.name: true}
				l.call("PUT", "/v1/tenants/acme/config", acme, "application/json", leakConfig(pool, picked, gen), 200)
			}
		case 3: // an upload of a filter no route uses
			apply = func() {
				l.call("PUT", "/v1/tenants/acme/filters/spare", acme, wasm, spareMods[(i/4)%2], 200, 201)
			}
		}
		if i%3 == 0 {
			inFlight(apply)
		} else {
			apply()
		}
		check(fmt.Sprintf("after change %d", i))
		check(fmt.Sprintf("after change %d", i))
	}
	// Change 200 brings the configuration back to the baseline's shape:
	// one pool of one endpoint, the same two filters.
	gen++
	pool, endpoints = "web-final", map[string]bool{"o0": true}
	l.call("PUT", "/v1/tenants/acme/config", acme, "application/json", leakConfig(pool, []string{origins[0].addr()}, gen), 200)
	warm()

	// Goroutines of closed connections and drained plugins exit on their
	// own schedule: wait for them, without making time an assertion.
	var after usage
	deadline := time.Now().Add(30 * time.Second)
	for {
		after = measure(l, origins)
		if settled(base, after) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("after %d changes: %v", changes, after)
	if after.stats != base.stats {
		t.Errorf("engine holds %+v after the changes, %+v before, for the same configuration", after.stats, base.stats)
	}
	if after.goroutines > base.goroutines+goroutineSlack {
		t.Errorf("%d goroutines after the changes, %d before", after.goroutines, base.goroutines)
	}
	if base.fds >= 0 && after.fds > base.fds+fdSlack {
		t.Errorf("%d open file descriptors after the changes, %d before", after.fds, base.fds)
	}
	if after.originConn > base.originConn {
		t.Errorf("origins hold %d connections after the changes, %d before: pools no longer used were not closed", after.originConn, base.originConn)
	}
	if after.heapInuse > base.heapInuse+heapSlack || after.heapAlloc > base.heapAlloc+heapSlack {
		t.Errorf("heap after the changes: %d in use, %d allocated; before: %d, %d (slack %d)",
			after.heapInuse, after.heapAlloc, base.heapInuse, base.heapAlloc, heapSlack)
	}
}

// Tolerances of TestReloadLeaksNothing.
const (
	// goroutineSlack: a node keeps no goroutine per change; the slack
	// covers runtime-internal ones that come and go (a finaliser, a
	// timer) between two samples.
	goroutineSlack = 2
	// fdSlack: the store's files and the listeners are fixed; one change
	// leaking a snapshot file or a connection would show 200 times over.
	fdSlack = 2
	// heapSlack: 200 changes that each leaked one 3.5 MB module's bytes,
	// a plugin or a pool would leave hundreds of MiB; what may
	// legitimately differ is the size of the store's read caches and
	// sync.Pools, well under this.
	heapSlack = 8 << 20
)

func settled(base, after usage) bool {
	return after.stats == base.stats && after.goroutines <= base.goroutines+goroutineSlack &&
		after.originConn <= base.originConn && (base.fds < 0 || after.fds <= base.fds+fdSlack)
}

// TestInFlightRequestKeepsItsPlugins: a request whose first filter waits
// on an authorization service while a change replaces its second filter
// still runs the second filter of the snapshot it started on, and that
// plugin is closed only once the request is done. It pins 39937de:
// before it, Swap closed the old plugin at once, the request's stream on
// it panicked (divide by zero on the closed plugin's slots), the client
// retried the dropped GET and the retry's check timed out: 503.
func TestInFlightRequestKeepsItsPlugins(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	web := newOrigin(t, "web", make(chan struct{}, 1), make(chan struct{}))
	auth := newOrigin(t, "auth", entered, release)
	l := startLiveNode(t)
	l.call("PUT", "/v1/tenants/acme", leakOpToken, "", nil, 201)
	l.call("PUT", "/v1/tenants/acme/domains/acme.test", leakOpToken, "", nil, 201)
	var tok struct{ Token string }
	body := l.call("POST", "/v1/tenants/acme/tokens", leakOpToken, "application/json", []byte(`{}`), 201)
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %s", body)
	}
	acme := tok.Token
	l.call("PUT", "/v1/tenants/acme/filters/extauth", acme, "application/wasm", wasmFile(t, "bin/filters/extauth.wasm"), 201)
	l.call("PUT", "/v1/tenants/acme/filters/hdr", acme, "application/wasm", wasmFile(t, "bin/filters/headers.wasm"), 201)
	config := func(gen int) []byte {
		return fmt.Appendf(nil, `{"upstreams":[{"name":"web","endpoints":[%q]},{"name":"auth","endpoints":[%q]}],
"routes":[
  {"match":{"path":"/held"},"upstream":"web","filters":[
    {"name":"authz","module":"extauth","http_upstreams":["auth"],"config":{"upstream":"auth","path":"/check-slow","timeout_ms":30000},"limits":{"instances":1}},
    {"name":"hdr","module":"hdr","config":{"response":{"set":{"x-gen":"%d"}}},"limits":{"instances":1}}]},
  {"upstream":"web","filters":[
    {"name":"hdr","module":"hdr","config":{"response":{"set":{"x-gen":"%d"}}},"limits":{"instances":1}}]}]}`,
			web.addr(), auth.addr(), gen, gen)
	}
	l.call("PUT", "/v1/tenants/acme/config", acme, "application/json", config(1), 200)
	if resp, b, err := l.get("acme.test", "/x"); err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Gen") != "1" {
		t.Fatalf("before the change: %v %v %s", resp, err, b)
	}
	before := l.n.wasm.Stats()

	type result struct {
		resp *http.Response
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, b, err := l.get("acme.test", "/held")
		res <- result{resp, b, err}
	}()
	select {
	case <-entered: // the request waits in its first filter
	case r := <-res:
		t.Fatalf("the request ended before its check: %v %v", r.err, r.body)
	}
	l.call("PUT", "/v1/tenants/acme/config", acme, "application/json", config(2), 200)
	if resp, b, err := l.get("acme.test", "/x"); err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Gen") != "2" {
		t.Fatalf("after the change: %v %v %s", resp, err, b)
	}
	// The old hdr plugin is still held by the request in flight.
	if st := l.n.wasm.Stats(); st.Plugins != before.Plugins+1 {
		t.Errorf("with a request in flight on the old snapshot the engine holds %+v, want one plugin more than %+v", st, before)
	}
	release <- struct{}{}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.resp.StatusCode != 200 || r.resp.Header.Get("X-Gen") != "1" {
		t.Fatalf("the request in flight got %d, x-gen %q: %s; want 200 from the snapshot it started on (x-gen 1)",
			r.resp.StatusCode, r.resp.Header.Get("X-Gen"), r.body)
	}
	// Done: the old plugin is closed now (the request's last step, so
	// wait for it rather than race it).
	deadline := time.Now().Add(10 * time.Second)
	for l.n.wasm.Stats().Plugins != before.Plugins && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := l.n.wasm.Stats(); st.Plugins != before.Plugins {
		t.Errorf("after the request in flight ended the engine holds %+v, want the plugins of %+v", st, before)
	}
}
