//go:build soak

package main

// The soak: wrk loads a route on two wedge nodes that share one etcd
// while 50 route and filter changes are applied through node A. Not part
// of make test; run it with make soak, or
//
//	go test -tags soak -run TestSoak -v -timeout 30m ./cmd/wedge
//
// (make wat filters first: it needs bin/filters/headers.wasm, and
// wat2wasm and etcd on PATH, which scripts/deps.sh installs).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/client"
	"github.com/wedgeproxy/wedge/edge/control/store/storetest"
)

// The soak's shape. None is a performance threshold: the run fails only
// on a failed request, or on a change not served within soakServeGuard.
const (
	soakConns      = 16                     // wrk connections per node (one wrk thread each)
	soakWarmup     = 3 * time.Second        // load before the first change
	soakGap        = 200 * time.Millisecond // load between one change served and the next
	soakTail       = 3 * time.Second        // load after the last change
	soakPollEvery  = time.Millisecond       // how often a node is asked whether it serves a change
	soakServeGuard = 20 * time.Second       // a change not served by then fails the run
	soakHost       = "app.soak.test"
	soakPath       = "/soak"
)

// soakChanges is how many route tables and filter pushes, alternating,
// the soak applies: 50, or SOAK_CHANGES.
func soakChanges(t *testing.T) int {
	s := os.Getenv("SOAK_CHANGES")
	if s == "" {
		return 50
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("SOAK_CHANGES=%q: want a count", s)
	}
	return n
}

// soakNode is one node of the soak's fleet.
type soakNode struct {
	name  string
	node  *wedgeNode
	admin string // http://host:port
	data  string // http://host:port of the HTTP listener
	poll  *http.Client
	polls atomic.Int64 // requests the change pollers sent, every one a 200 through both filters or the run failed
}

func startSoakNode(t *testing.T, name string, endpoints []string) *soakNode {
	t.Helper()
	n := startFleetNode(t, name, endpoints, "/wedge-soak/")
	return &soakNode{
		name:  name,
		node:  n.wedgeNode,
		admin: n.admin,
		data:  "http://" + n.addr("http"),
		poll:  &http.Client{Timeout: 5 * time.Second},
	}
}

// soakSeen is what one response of the soak route said.
type soakSeen struct {
	status int
	route  string // X-Soak-Route: set by the headers filter's config, in the route table
	module string // X-Wat-Response: compiled into the stamp filter's module
	err    error
}

func (n *soakNode) get() soakSeen {
	req, _ := http.NewRequest("GET", n.data+soakPath, nil)
	req.Host = soakHost
	n.polls.Add(1)
	resp, err := n.poll.Do(req)
	if err != nil {
		return soakSeen{err: err}
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return soakSeen{status: resp.StatusCode, route: resp.Header.Get("X-Soak-Route"), module: resp.Header.Get("X-Wat-Response"), err: err}
}

// waitServed polls the node from since until it serves what want
// accepts, and returns how long after since that was. Once strict, every
// response on the way must be a whole one (200, both filters' headers):
// anything else is a failed request and fails the run.
func (n *soakNode) waitServed(since time.Time, strict bool, want func(soakSeen) bool) (time.Duration, error) {
	for {
		s := n.get()
		now := time.Now()
		switch {
		case !strict && !want(s) && now.Sub(since) <= soakServeGuard:
		case s.err != nil:
			return 0, fmt.Errorf("%s: %w", n.name, s.err)
		case s.status != 200 || s.route == "" || s.module == "":
			return 0, fmt.Errorf("%s: a failed request: status %d, X-Soak-Route %q, X-Wat-Response %q", n.name, s.status, s.route, s.module)
		case want(s):
			return now.Sub(since), nil
		case now.Sub(since) > soakServeGuard:
			return 0, fmt.Errorf("%s: change not served within %s (serving route %q, module %q)", n.name, soakServeGuard, s.route, s.module)
		}
		time.Sleep(soakPollEvery)
	}
}

// stampModules builds the stamp filter's versions: add_header.wat with
// its header value "1" replaced by the version, three digits, so
// X-Wat-Response names the module a response went through.
func stampModules(t *testing.T, versions int) [][]byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "runtime", "testdata", "wat", "add_header.wat"))
	if err != nil {
		t.Fatal(err)
	}
	const value, use = `(data (i32.const 0x108) "1")`, `(i32.const 0x108) (i32.const 1)`
	if strings.Count(string(src), value) != 1 || strings.Count(string(src), use) != 2 {
		t.Fatal("add_header.wat changed: the soak's stamp modules need its header value at 0x108, length 1")
	}
	dir := t.TempDir()
	out := make([][]byte, versions)
	for v := range out {
		s := strings.Replace(string(src), value, fmt.Sprintf(`(data (i32.const 0x108) "%03d")`, v), 1)
		s = strings.ReplaceAll(s, use, `(i32.const 0x108) (i32.const 3)`)
		wat, wasm := filepath.Join(dir, fmt.Sprintf("stamp%d.wat", v)), filepath.Join(dir, fmt.Sprintf("stamp%d.wasm", v))
		if err := os.WriteFile(wat, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command("wat2wasm", wat, "-o", wasm).CombinedOutput(); err != nil {
			t.Fatalf("wat2wasm (scripts/deps.sh installs it): %v\n%s", err, b)
		}
		if out[v], err = os.ReadFile(wasm); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// soakRoutes is route table version v: a marker route that changes with
// every version, and the soak route with both filters, the headers
// filter's config naming v.
func soakRoutes(v int) []byte {
	return fmt.Appendf(nil, `routes:
  - name: marker-%[1]d
    match: {path: /marker/%[1]d}
    respond: {body: "route table %[1]d"}
  - name: soak
    match: {path: %[2]s}
    upstream: origin
    filters:
      - name: stamp
        module: stamp
        failure_mode: closed
      - name: headers
        module: headers
        failure_mode: closed
        config:
          response:
            set: {x-soak-route: "%[1]d"}
`, v, soakPath)
}

// wrkRun is one wrk process and what it reported.
type wrkRun struct {
	node   string
	cmd    *exec.Cmd
	out    bytes.Buffer
	report wrkReport
}

type wrkReport struct {
	requests        int64
	duration        string
	reqPerSec       float64
	socket          [4]int64 // connect, read, write, timeout
	non2xx3xx       int64
	avg, stdev, max string
	pct             map[string]string // "50%" → "1.23ms"
}

func (r wrkReport) errors() int64 {
	return r.socket[0] + r.socket[1] + r.socket[2] + r.socket[3] + r.non2xx3xx
}

func startWrk(t *testing.T, n *soakNode) *wrkRun {
	t.Helper()
	w := &wrkRun{node: n.name}
	// -d is only a bound: the soak stops wrk with SIGINT, on which wrk
	// prints its report.
	w.cmd = exec.Command("wrk", "-t1", fmt.Sprintf("-c%d", soakConns), "-d600s", "--latency",
		"-H", "Host: "+soakHost, n.data+soakPath)
	w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("wrk: %v (apt-get install wrk)", err)
	}
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			w.cmd.Process.Kill()
			w.cmd.Wait()
		}
	})
	return w
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in ([0-9.]+\w+)`)
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkLatency  = regexp.MustCompile(`(?m)^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)`)
	wrkPct      = regexp.MustCompile(`(?m)^\s+(50|75|90|99)%\s+(\S+)`)
)

// stop ends wrk and parses its report.
func (w *wrkRun) stop() error {
	w.cmd.Process.Signal(syscall.SIGINT)
	w.cmd.Wait()
	out := w.out.String()
	m := wrkRequests.FindStringSubmatch(out)
	rate := wrkRate.FindStringSubmatch(out)
	lat := wrkLatency.FindStringSubmatch(out)
	if m == nil || rate == nil || lat == nil {
		return fmt.Errorf("wrk on %s: no report in its output:\n%s", w.node, out)
	}
	r := &w.report
	r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	r.duration = m[2]
	r.reqPerSec, _ = strconv.ParseFloat(rate[1], 64)
	r.avg, r.stdev, r.max = lat[1], lat[2], lat[3]
	if s := wrkSocket.FindStringSubmatch(out); s != nil {
		for i := range r.socket {
			r.socket[i], _ = strconv.ParseInt(s[i+1], 10, 64)
		}
	}
	if s := wrkNon2xx.FindStringSubmatch(out); s != nil {
		r.non2xx3xx, _ = strconv.ParseInt(s[1], 10, 64)
	}
	r.pct = map[string]string{}
	for _, p := range wrkPct.FindAllStringSubmatch(out, -1) {
		r.pct[p[1]+"%"] = p[2]
	}
	return nil
}

// percentile is the nearest-rank percentile p of sorted ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(ds))*p)) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// TestSoak: wrk loads one route on each of two nodes sharing an etcd
// while 50 changes are applied through node A, alternating a
// route table replacement (which also changes a filter's config) and a
// push of a new filter module. Every change is timed from the admin
// API's answer to the first response showing it, on each node. The run
// fails on any failed request: a wrk socket error or non-2xx/3xx
// response, or a poll that is not a 200 through both filters.
func TestSoak(t *testing.T) {
	total := soakChanges(t)
	stamps := stampModules(t, total+1)
	headers, err := os.ReadFile(filepath.Join("..", "..", "bin", "filters", "headers.wasm"))
	if err != nil {
		t.Fatalf("%v (make filters builds it)", err)
	}
	etcd := storetest.StartEtcd(t)
	origin := startOrigin(t, map[string]http.Handler{"/": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "soak origin\n")
	})})
	a := startSoakNode(t, "soak-a", etcd.Endpoints())
	b := startSoakNode(t, "soak-b", etcd.Endpoints())
	nodes := []*soakNode{a, b}

	ctx := context.Background()
	op, err := client.New(a.admin, fleetOperator)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.PutTenant(ctx, "soak", client.Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := op.AddDomain(ctx, "soak", soakHost); err != nil {
		t.Fatal(err)
	}
	tok, err := op.CreateToken(ctx, "soak", "the soak's tenant")
	if err != nil {
		t.Fatal(err)
	}
	// The changes are the tenant's, made with its own token.
	tenant, err := client.New(a.admin, tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.PutUpstream(ctx, "soak", client.Upstream{Name: "origin", Endpoints: []string{origin}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.PushFilter(ctx, "soak", "headers", headers); err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.PushFilter(ctx, "soak", "stamp", stamps[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.PutRoutes(ctx, "soak", soakRoutes(0), "application/yaml"); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if _, err := n.waitServed(time.Now(), false, func(s soakSeen) bool { return s.route == "0" && s.module == "000" }); err != nil {
			t.Fatal(err)
		}
	}

	for _, n := range nodes {
		n.polls.Store(0)
	}
	wrks := []*wrkRun{startWrk(t, a), startWrk(t, b)}
	time.Sleep(soakWarmup)

	type change struct {
		kind   string // "routes" or "filter"
		served [2]time.Duration
	}
	changes := make([]change, 0, total)
	var failure error
	for v := 1; v <= total && failure == nil; v++ {
		c := change{kind: "routes"}
		var want func(soakSeen) bool
		if v%2 == 1 {
			_, err = tenant.PutRoutes(ctx, "soak", soakRoutes(v), "application/yaml")
			route := strconv.Itoa(v)
			want = func(s soakSeen) bool { return s.route == route }
		} else {
			c.kind = "filter"
			_, err = tenant.PushFilter(ctx, "soak", "stamp", stamps[v])
			module := fmt.Sprintf("%03d", v)
			want = func(s soakSeen) bool { return s.module == module }
		}
		accepted := time.Now()
		if err != nil {
			failure = fmt.Errorf("change %d (%s): %w", v, c.kind, err)
			break
		}
		var wg sync.WaitGroup
		var errs [2]error
		for i, n := range nodes {
			wg.Go(func() { c.served[i], errs[i] = n.waitServed(accepted, true, want) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil && failure == nil {
				failure = fmt.Errorf("change %d (%s): %w", v, c.kind, err)
			}
		}
		changes = append(changes, c)
		time.Sleep(soakGap)
	}
	if failure == nil {
		time.Sleep(soakTail)
	}
	wrkFailed := false
	for _, w := range wrks {
		if err := w.stop(); err != nil {
			t.Error(err)
			wrkFailed = true
		}
	}

	var sum strings.Builder
	fmt.Fprintf(&sum, "soak: %d changes through node A (%d route tables, %d filter pushes), two nodes on one etcd, wrk -t1 -c%d per node\n",
		len(changes), (len(changes)+1)/2, len(changes)/2, soakConns)
	fmt.Fprintf(&sum, "%-7s %9s %8s %9s %7s %9s %9s %9s %9s %9s\n",
		"node", "requests", "time", "req/s", "errors", "lat avg", "lat p50", "lat p90", "lat p99", "lat max")
	for _, w := range wrks {
		r := w.report
		fmt.Fprintf(&sum, "%-7s %9d %8s %9.0f %7d %9s %9s %9s %9s %9s\n",
			w.node, r.requests, r.duration, r.reqPerSec, r.errors(), r.avg, r.pct["50%"], r.pct["90%"], r.pct["99%"], r.max)
		if r.errors() > 0 {
			fmt.Fprintf(&sum, "        errors: connect %d, read %d, write %d, timeout %d, non-2xx/3xx %d\n",
				r.socket[0], r.socket[1], r.socket[2], r.socket[3], r.non2xx3xx)
		}
	}
	fmt.Fprintf(&sum, "change-to-served (admin API 2xx on node A -> first response showing the change; polled every %s: %d requests to soak-a, %d to soak-b):\n",
		soakPollEvery, a.polls.Load(), b.polls.Load())
	fmt.Fprintf(&sum, "%-7s %-7s %3s %9s %9s %9s %9s\n", "node", "kind", "n", "min", "p50", "p99", "max")
	for i, n := range nodes {
		for _, kind := range []string{"all", "routes", "filter"} {
			var ds []time.Duration
			for _, c := range changes {
				if kind == "all" || c.kind == kind {
					ds = append(ds, c.served[i])
				}
			}
			slices.Sort(ds)
			if len(ds) == 0 {
				continue
			}
			fmt.Fprintf(&sum, "%-7s %-7s %3d %9s %9s %9s %9s\n", n.name, kind, len(ds), ms(ds[0]), ms(percentile(ds, 0.50)), ms(percentile(ds, 0.99)), ms(ds[len(ds)-1]))
		}
	}
	t.Log("\n" + sum.String())

	if failure != nil {
		t.Fatal(failure)
	}
	if wrkFailed {
		t.FailNow()
	}
	for _, w := range wrks {
		if w.report.errors() > 0 || w.report.requests == 0 {
			t.Errorf("wrk on %s: %d failed requests of %d:\n%s", w.node, w.report.errors(), w.report.requests, w.out.String())
		}
	}
}
