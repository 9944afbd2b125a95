package control

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/control/store"
)

// The admin API tells nobody about other tenants: /healthz and /readyz
// say only ok or not ready, /v1/status needs a token, and a tenant's
// token sees only its own part of the node's last error.

// TestStatusShowsEachTenantOnlyItsOwnErrors runs a real reloader whose
// apply fails for two tenants, as a node's tenant-by-tenant fallback
// reports it, and reads the status with every kind of token.
func TestStatusShowsEachTenantOnlyItsOwnErrors(t *testing.T) {
	acmeErr := fmt.Errorf("tenant %q keeps its last good configuration: %w", "acme", errors.New(`node: routes[0].filters[0]: filter "auth" does not start`))
	globexErr := fmt.Errorf("tenant %q is not served: %w", "globex", errors.New(`node: domain "globex.test" is tenant "initech"'s in the node file`))
	applyErr := fmt.Errorf("revision 9: %w", fmt.Errorf("%w: %w", ErrPartial, errors.Join(acmeErr, globexErr)))
	rl := &Reloader{StoreType: "embedded", Node: "test", Apply: func(context.Context, []config.Tenant, int64) error { return applyErr }}
	f := newAPIConf(t, 0, nil, func(api *TenantAPI) { rl.Store = api.Store; api.Status = rl.Status })
	acme := f.tenant("acme", "acme.test")
	globex := f.tenant("globex", "globex.test")
	initech := f.tenant("initech", "initech.test")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	eventually(t, "the reloader reports the refusal", func() bool { return rl.Status().LastError != "" })

	if r := f.must(200, "GET", "/healthz", "", ""); r.body != "ok\n" {
		t.Errorf("/healthz: %q", r.body)
	}
	if r := f.must(200, "GET", "/readyz", "", ""); r.body != "{\"ready\":true}\n" {
		t.Errorf("/readyz: %q, want only that the node is ready", r.body)
	}
	f.must(401, "GET", "/v1/status", "", "")
	f.must(401, "GET", "/v1/status", "not-a-token", "")

	status := func(token string) (Status, string) {
		t.Helper()
		r := f.must(200, "GET", "/v1/status", token, "")
		var st Status
		r.json(t, &st)
		if st.Node != "test" || !st.Ready || !st.StoreOK || st.Store != "embedded" {
			t.Errorf("status %+v", st)
		}
		return st, r.body
	}
	if st, _ := status(opToken); st.LastError != applyErr.Error() {
		t.Errorf("operator: last_error %q, want %q", st.LastError, applyErr.Error())
	}
	if st, body := status(acme); st.LastError != acmeErr.Error() || strings.Contains(body, "globex") {
		t.Errorf("acme: last_error %q, want %q; body %s", st.LastError, acmeErr.Error(), body)
	}
	if st, body := status(globex); st.LastError != globexErr.Error() || strings.Contains(body, "acme") {
		t.Errorf("globex: last_error %q, want %q; body %s", st.LastError, globexErr.Error(), body)
	}
	if _, body := status(initech); strings.Contains(body, "last_error") {
		t.Errorf("initech has no error, and sees none of the others': %s", body)
	}
}

// TestReadyzNotReadySaysNothingMore: a node not ready says so and
// nothing of why.
func TestReadyzNotReadySaysNothingMore(t *testing.T) {
	f := newAPIConf(t, 0, nil, func(api *TenantAPI) {
		api.Status = func() Status {
			return Status{Node: "test", LastError: `control: tenant "globex": routes[0].upstream: no pool "web"`}
		}
	})
	if r := f.must(503, "GET", "/readyz", "", ""); r.body != "{\"ready\":false}\n" {
		t.Errorf("/readyz: %q, want only that the node is not ready", r.body)
	}
}

// TestTenantErrorsSplitsByTenant: the parts of a reload error are told
// apart by the tenant they start by naming; the rest is the operator's.
func TestTenantErrorsSplitsByTenant(t *testing.T) {
	a1 := errors.New(`control: tenant "acme": routes[0].filters[0].module: no filter "x"`)
	a2 := errors.New(`control: key "tenants/acme/routes": unexpected end of JSON input`)
	b := errors.New(`control: tenant "b_2": upstreams[web].endpoints[0]: refused`)
	other := errors.New("control: store: unavailable")
	got := tenantErrors(fmt.Errorf("x: %w", errors.Join(a1, other, a2, b)))
	want := map[string]string{"acme": a1.Error() + "\n" + a2.Error(), "b_2": b.Error()}
	if len(got) != len(want) || got["acme"] != want["acme"] || got["b_2"] != want["b_2"] {
		t.Errorf("tenantErrors: %q, want %q", got, want)
	}
	if got := tenantErrors(other); got != nil {
		t.Errorf("an error naming no tenant: %q", got)
	}
}

// TestUploadCheckNamespace: an upload is checked (started) in a
// namespace no tenant can name, one per tenant: what the check leaves in
// shared data reaches neither the tenant named "upload-check" (still a
// valid name), nor another tenant's upload check. upload_shared.wasm
// starts only where it never started before.
func TestUploadCheckNamespace(t *testing.T) {
	f := newAPI(t, 0)
	if err := checkTenantName("upload-check"); err != nil {
		t.Fatalf("upload-check is no longer a tenant name (%v): make this test name one the check's namespace could be", err)
	}
	if err := checkTenantName(uploadNamespace("acme")); err == nil {
		t.Fatalf("tenants may be named %q, the namespace acme's uploads are checked in", uploadNamespace("acme"))
	}
	acme := f.tenant("acme", "acme.test")
	globex := f.tenant("globex", "globex.test")
	uc := f.tenant("upload-check", "uc.test")
	mod := string(readModule(t, "bin/wat/upload_shared.wasm"))
	const wasm = "application/wasm"
	f.must(201, "PUT", "/v1/tenants/acme/filters/probe", acme, mod, "Content-Type", wasm)
	// Another tenant's check does not see what acme's left.
	f.must(201, "PUT", "/v1/tenants/globex/filters/probe", globex, mod, "Content-Type", wasm)
	f.must(201, "PUT", "/v1/tenants/upload-check/filters/probe", uc, mod, "Content-Type", wasm)
	// The tenant named upload-check runs the filter in its own namespace,
	// where no upload check wrote: it starts.
	r := f.must(200, "PUT", "/v1/tenants/upload-check/routes", uc, `{"routes":[{"respond":{"status":204},"filters":[{"name":"p","module":"probe"}]}]}`)
	if !strings.Contains(r.body, `"module":"probe"`) {
		t.Errorf("routes: %s", r.body)
	}
	// The same tenant's own check namespace did keep its mark: a second
	// upload check of the module there does not start (so the mark the
	// route's start did not see was really written).
	before := f.rev()
	r = f.must(400, "PUT", "/v1/tenants/acme/filters/probe2", acme, mod, "Content-Type", wasm)
	if !strings.Contains(r.body, "does not start") || f.rev() != before {
		t.Errorf("second check in acme's namespace: %s", r.body)
	}
}

// statusJSON decodes an error answer.
func errorBody(t *testing.T, r reply) string {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return e.Error
}

// fakeClock is the Admin's clock in tests: it moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(a *Admin) *fakeClock {
	c := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	a.now = c.now
	return c
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingStore counts the API's reads of token hashes and lists of
// purges.
type countingStore struct {
	store.Store
	tokenGets, purgeLists atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, key string) (store.KV, error) {
	if strings.HasPrefix(key, tokensPrefix) {
		s.tokenGets.Add(1)
	}
	return s.Store.Get(ctx, key)
}

func (s *countingStore) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	if prefix == purgesPrefix {
		s.purgeLists.Add(1)
	}
	return s.Store.List(ctx, prefix)
}

// from sends one request from the loopback address local (127.0.0.x).
func (f *apiFixture) from(local, method, path, token string) reply {
	f.t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}).DialContext}}
	defer c.CloseIdleConnections()
	req, err := http.NewRequest(method, f.url+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// TestUnknownTokensCostOneReadAndAreRateLimited: the same unknown token
// is read from the store once; an address that sends authBurst unknown
// tokens gets 429 with Retry-After, without a store read, until its
// bucket refills, while other addresses and the operator are served; a
// token the store learns of (created on another node) is accepted once
// the tenant layer moves.
func TestUnknownTokensCostOneReadAndAreRateLimited(t *testing.T) {
	cs := &countingStore{}
	var seen atomic.Int64
	f := newAPIConf(t, 0, func(s store.Store) store.Store { cs.Store = s; return cs }, func(api *TenantAPI) {
		api.Status = func() Status { return Status{Node: "test", Ready: true, seen: seen.Load()} }
	})
	clk := newClock(f.admin)
	f.tenant("acme", "acme.test")
	reads := func() int64 { return cs.tokenGets.Load() }
	start := reads()
	for i := range 5 {
		r := f.from("127.0.0.1", "GET", "/v1/tenants/acme", "wedge_unknown")
		if r.status != 401 || errorBody(t, r) != "control: invalid token" {
			t.Fatalf("unknown token, try %d: %d %s", i, r.status, r.body)
		}
	}
	if got := reads() - start; got != 1 {
		t.Fatalf("5 tries of one unknown token read the store %d times, want 1", got)
	}
	// 15 more distinct ones: the address's burst of 20 is spent.
	for i := range authBurst - 5 {
		if r := f.from("127.0.0.1", "GET", "/v1/tenants/acme", fmt.Sprintf("wedge_guess%d", i)); r.status != 401 {
			t.Fatalf("guess %d: %d %s", i, r.status, r.body)
		}
	}
	if got := reads() - start; got != 1+authBurst-5 {
		t.Fatalf("store reads %d, want %d", got, 1+authBurst-5)
	}
	r := f.from("127.0.0.1", "GET", "/v1/tenants/acme", "wedge_oneTooMany")
	if r.status != 429 || r.hdr.Get("Retry-After") != "1" || errorBody(t, r) != "control: too many unknown tokens from this address (at most 20, then 1 a second): retry in 1s" {
		t.Fatalf("past the burst: %d %v %s", r.status, r.hdr, r.body)
	}
	if got := reads() - start; got != 1+authBurst-5 {
		t.Fatalf("a refused token was read from the store (%d reads)", got)
	}
	// The operator is known without the store; another address has its
	// own bucket.
	if r := f.from("127.0.0.1", "GET", "/v1/tenants/acme", opToken); r.status != 200 {
		t.Fatalf("operator from the limited address: %d %s", r.status, r.body)
	}
	if r := f.from("127.0.0.2", "GET", "/v1/tenants/acme", "wedge_other"); r.status != 401 {
		t.Fatalf("another address: %d %s", r.status, r.body)
	}
	// One second refills one token.
	clk.add(time.Second)
	if r := f.from("127.0.0.1", "GET", "/v1/tenants/acme", "wedge_unknown"); r.status != 401 {
		t.Fatalf("after a second: %d %s", r.status, r.body)
	}
	if r := f.from("127.0.0.1", "GET", "/v1/tenants/acme", "wedge_unknown"); r.status != 429 {
		t.Fatalf("the refilled token spent: %d %s", r.status, r.body)
	}

	// A token another node creates: this node had it as unknown; once
	// its tenant layer moves past the write, it is read again.
	clk.add(time.Minute)
	if r := f.from("127.0.0.3", "GET", "/v1/tenants/acme", "wedge_fleet"); r.status != 401 {
		t.Fatalf("before creation: %d %s", r.status, r.body)
	}
	rev, err := cs.Store.Txn(context.Background(), nil, []store.Op{{Key: tokenIndexKey(hashHex("wedge_fleet")), Value: jsonOf(tokenIndex{Tenant: "acme", ID: "t_x"})}})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.from("127.0.0.3", "GET", "/v1/tenants/acme", "wedge_fleet"); r.status != 401 {
		t.Fatalf("remembered as unknown until the layer moves: %d %s", r.status, r.body)
	}
	seen.Store(rev)
	if r := f.from("127.0.0.3", "GET", "/v1/tenants/acme", "wedge_fleet"); r.status != 200 {
		t.Fatalf("after the layer moved: %d %s", r.status, r.body)
	}
}

// TestNegCacheIsBounded: the negative cache keeps at most its size,
// forgetting the oldest, and forgets everything when the generation
// moves.
func TestNegCacheIsBounded(t *testing.T) {
	c := newNegCache(3)
	sum := func(i int) [32]byte { return sha256.Sum256([]byte{byte(i)}) }
	for i := range 5 {
		c.add(sum(i), 1)
	}
	if c.len() != 3 || c.has(sum(0), 1) || c.has(sum(1), 1) || !c.has(sum(2), 1) || !c.has(sum(4), 1) {
		t.Fatalf("len %d", c.len())
	}
	c.forget(sum(3))
	if c.has(sum(3), 1) || c.len() != 2 {
		t.Fatalf("forget: len %d", c.len())
	}
	if c.has(sum(4), 2) || c.len() != 0 {
		t.Fatalf("a new generation keeps %d", c.len())
	}
}

// refused checks an answer refused with status, whose message is want
// exactly, and that nothing was written (the store revision did not
// move).
func (f *apiFixture) refused(r reply, status int, want string, before int64) {
	f.t.Helper()
	if r.status != status {
		f.t.Fatalf("%d %s, want %d %q", r.status, r.body, status, want)
	}
	if got := errorBody(f.t.(*testing.T), r); got != "control: "+want {
		f.t.Fatalf("message %q, want %q", got, "control: "+want)
	}
	if rev := f.rev(); rev != before {
		f.t.Fatalf("a refused change wrote: store revision %d → %d", before, rev)
	}
}

// TestQuotas: every size quota, from the node's defaults and from the
// tenant's own, refuses the change that would pass it, naming the quota
// and its value, and writes nothing; a tenant over a quota the operator
// lowered may still shrink, and change what the quota does not count.
func TestQuotas(t *testing.T) {
	f := newAPIConf(t, 0, nil, func(api *TenantAPI) { api.Quotas = config.Quotas{MaxDomains: 2, MaxRoutes: 1} })
	acme := f.tenant("acme", "a1.test", "a2.test")
	before := f.rev()
	f.refused(f.do("PUT", "/v1/tenants/acme/domains/a3.test", opToken, nil), 409,
		`tenant "acme": quota max_domains (2) reached: it has 2 domains; nothing was changed`, before)
	f.refused(f.do("PUT", "/v1/tenants/acme/routes", acme, []byte(`{"routes":[{"respond":{"status":200}},{"respond":{"status":201}}]}`)), 409,
		`tenant "acme": quota max_routes (1) exceeded: the change would leave it 2 routes; nothing was changed`, before)

	// The tenant's own quotas, set by the operator.
	f.must(200, "PUT", "/v1/tenants/acme", opToken, `{"limits":{"quotas":{"max_filters":1,"max_pools":1,"max_endpoints":2,"max_stored_bytes":1000,"max_filter_versions":2,"max_domains":3}}}`)
	var tn Tenant
	f.must(200, "GET", "/v1/tenants/acme", opToken, "").json(t, &tn)
	if tn.Limits.Quotas != (config.Quotas{MaxFilters: 1, MaxPools: 1, MaxEndpoints: 2, MaxStoredBytes: 1000, MaxFilterVersions: 2, MaxDomains: 3}) {
		t.Fatalf("quotas as read back: %+v", tn.Limits.Quotas)
	}
	f.must(201, "PUT", "/v1/tenants/acme/domains/a3.test", opToken, "")
	f.must(201, "PUT", "/v1/tenants/acme/upstreams/web", acme, `{"endpoints":["127.0.0.1:9","127.0.0.1:10"]}`)
	before = f.rev()
	f.refused(f.do("PUT", "/v1/tenants/acme/upstreams/api", acme, []byte(`{"endpoints":["127.0.0.1:11"]}`)), 409,
		`tenant "acme": quota max_pools (1) exceeded: the change would leave it 2 upstream pools; nothing was changed`, before)
	f.refused(f.do("PUT", "/v1/tenants/acme/upstreams/web", acme, []byte(`{"endpoints":["127.0.0.1:9","127.0.0.1:10","127.0.0.1:11"]}`)), 409,
		`tenant "acme": quota max_endpoints (2) exceeded: the change would leave it 3 endpoints in its pools; nothing was changed`, before)
	f.refused(f.do("PUT", "/v1/tenants/acme/config", acme, []byte(`{"upstreams":[{"name":"a","endpoints":["127.0.0.1:9"]},{"name":"b","endpoints":["127.0.0.1:9"]}],"routes":[]}`)), 409,
		`tenant "acme": quota max_pools (1) exceeded: the change would leave it 2 upstream pools; nothing was changed`, before)

	// Filters: one name; bytes of every kept version; versions kept.
	const wasm = "application/wasm"
	add, abi, echo := readModule(t, "bin/wat/add_header.wasm"), readModule(t, "bin/wat/abi_020.wasm"), readModule(t, "bin/wat/config_echo.wasm")
	f.must(200, "PUT", "/v1/tenants/acme", opToken, fmt.Sprintf(`{"limits":{"quotas":{"max_filters":1,"max_pools":1,"max_endpoints":2,"max_stored_bytes":%d,"max_filter_versions":3,"max_domains":3}}}`, len(add)+len(abi)+len(echo)-1))
	f.must(201, "PUT", "/v1/tenants/acme/filters/f", acme, string(add), "Content-Type", wasm)
	before = f.rev()
	f.refused(f.do("PUT", "/v1/tenants/acme/filters/g", acme, abi, "Content-Type", wasm), 409,
		`tenant "acme": quota max_filters (1) exceeded: the change would leave it 2 filters; nothing was changed`, before)
	// Refused before the body is read or compiled: not a module at all.
	f.refused(f.do("PUT", "/v1/tenants/acme/filters/g", acme, []byte("not wasm"), "Content-Type", wasm), 409,
		`tenant "acme": quota max_filters (1) exceeded: the change would leave it 2 filters; nothing was changed`, before)
	f.must(201, "PUT", "/v1/tenants/acme/filters/f", acme, string(abi), "Content-Type", wasm)
	before = f.rev()
	f.refused(f.do("PUT", "/v1/tenants/acme/filters/f", acme, echo, "Content-Type", wasm), 413,
		fmt.Sprintf(`tenant "acme": quota max_stored_bytes (%d) exceeded: the change would leave it %d bytes of filter modules in the store; delete filters or versions first; nothing was changed`, len(add)+len(abi)+len(echo)-1, len(add)+len(abi)+len(echo)), before)
	// With room for the bytes, the third version pushes out the first.
	f.must(200, "PUT", "/v1/tenants/acme", opToken, `{"limits":{"quotas":{"max_filters":1,"max_pools":1,"max_endpoints":2,"max_filter_versions":2,"max_domains":3}}}`)
	var fl Filter
	f.must(201, "PUT", "/v1/tenants/acme/filters/f", acme, string(echo), "Content-Type", wasm).json(t, &fl)
	if len(fl.Versions) != 2 || fl.Versions[0].Version != 2 || fl.Versions[1].Version != 3 {
		t.Fatalf("versions kept: %+v", fl.Versions)
	}

	// Lowered below what the tenant has: it may shrink, and change what
	// the quota does not count, but not grow.
	f.must(200, "PUT", "/v1/tenants/acme", opToken, `{"limits":{"quotas":{"max_endpoints":1}}}`)
	f.must(200, "PUT", "/v1/tenants/acme/upstreams/web", acme, `{"endpoints":["127.0.0.1:9","127.0.0.1:12"]}`)
	before = f.rev()
	f.refused(f.do("PUT", "/v1/tenants/acme/upstreams/api", acme, []byte(`{"endpoints":["127.0.0.1:11"]}`)), 409,
		`tenant "acme": quota max_endpoints (1) exceeded: the change would leave it 3 endpoints in its pools; nothing was changed`, before)
	f.must(200, "PUT", "/v1/tenants/acme/upstreams/web", acme, `{"endpoints":["127.0.0.1:9"]}`)

	// Quotas are validated.
	before = f.rev()
	r := f.do("PUT", "/v1/tenants/acme", opToken, []byte(`{"limits":{"quotas":{"max_filters":-1}}}`))
	if r.status != 400 || !strings.Contains(r.body, "limits.quotas.max_filters: -1: want 0 (the default) to 1000000") || f.rev() != before {
		t.Fatalf("negative quota: %d %s", r.status, r.body)
	}
}

// TestQuotaDefaults: a node that sets none has the documented defaults.
func TestQuotaDefaults(t *testing.T) {
	want := config.Quotas{MaxFilters: 32, MaxFilterVersions: 10, MaxStoredBytes: 64 << 20, MaxPools: 64, MaxEndpoints: 256,
		MaxRoutes: 256, MaxDomains: 64, PurgesPerMinute: 60, MaxConcurrentUploads: 2}
	if got := (config.Quotas{}).WithDefaults(); got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	f := newAPI(t, 0)
	acme := f.tenant("acme", "acme.test")
	var eps []string
	for i := range 257 {
		eps = append(eps, fmt.Sprintf(`"127.0.0.1:%d"`, 1000+i))
	}
	before := f.rev()
	f.refused(f.do("PUT", "/v1/tenants/acme/upstreams/web", acme, []byte(`{"endpoints":[`+strings.Join(eps, ",")+`]}`)), 409,
		`tenant "acme": quota max_endpoints (256) exceeded: the change would leave it 257 endpoints in its pools; nothing was changed`, before)
}

// upload sends one filter upload in the background.
func (f *apiFixture) upload(tenant, token, name string, mod []byte) <-chan reply {
	out := make(chan reply, 1)
	go func() {
		req, err := http.NewRequest("PUT", f.url+"/v1/tenants/"+tenant+"/filters/"+name, bytes.NewReader(mod))
		if err != nil {
			out <- reply{body: err.Error()}
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/wasm")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- reply{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- reply{resp.StatusCode, resp.Header, string(b)}
	}()
	return out
}

// TestUploadPoolIsBounded: uploads are checked by the node's pool of
// workers with a bounded queue; past it an upload is 429 with
// Retry-After at once, and writes nothing. The test holds the pool's
// only worker itself.
func TestUploadPoolIsBounded(t *testing.T) {
	f := newAPIConf(t, 0, nil, func(api *TenantAPI) { api.Uploads = config.Uploads{Workers: 1, Queue: 1} })
	acme := f.tenant("acme", "acme.test")
	globex := f.tenant("globex", "globex.test")
	mod := readModule(t, "bin/wat/add_header.wasm")
	if err := f.admin.uploads.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	queued := f.upload("acme", acme, "a", mod)
	eventually(t, "the upload waits for a worker", func() bool { return f.admin.uploads.queued() == 1 })
	before := f.rev()
	r := f.do("PUT", "/v1/tenants/globex/filters/g", globex, mod, "Content-Type", "application/wasm")
	if r.hdr.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", r.hdr.Get("Retry-After"))
	}
	f.refused(r, 429, "the node is checking 1 uploads with 1 more waiting: retry; nothing was changed", before)
	f.admin.uploads.release()
	if r := <-queued; r.status != 201 {
		t.Fatalf("the queued upload: %d %s", r.status, r.body)
	}
	f.must(201, "PUT", "/v1/tenants/globex/filters/g", globex, string(mod), "Content-Type", "application/wasm")
}

// TestConcurrentUploadsPerTenant: a tenant at its max_concurrent_uploads
// gets 429 for one more; another tenant's upload still queues.
func TestConcurrentUploadsPerTenant(t *testing.T) {
	f := newAPIConf(t, 0, nil, func(api *TenantAPI) { api.Uploads = config.Uploads{Workers: 1, Queue: 4} })
	acme := f.tenant("acme", "acme.test")
	globex := f.tenant("globex", "globex.test")
	f.must(200, "PUT", "/v1/tenants/acme", opToken, `{"limits":{"quotas":{"max_concurrent_uploads":1}}}`)
	mod := readModule(t, "bin/wat/add_header.wasm")
	if err := f.admin.uploads.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := f.upload("acme", acme, "a", mod)
	eventually(t, "acme's upload waits", func() bool { return f.admin.uploads.queued() == 1 })
	before := f.rev()
	r := f.do("PUT", "/v1/tenants/acme/filters/b", acme, mod, "Content-Type", "application/wasm")
	if r.hdr.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", r.hdr.Get("Retry-After"))
	}
	f.refused(r, 429, `tenant "acme": quota max_concurrent_uploads (1) reached: wait for an upload to finish; nothing was changed`, before)
	other := f.upload("globex", globex, "g", mod)
	eventually(t, "globex's upload waits", func() bool { return f.admin.uploads.queued() == 2 })
	f.admin.uploads.release()
	for _, c := range []<-chan reply{first, other} {
		if r := <-c; r.status != 201 {
			t.Fatalf("queued upload: %d %s", r.status, r.body)
		}
	}
	f.must(201, "PUT", "/v1/tenants/acme/filters/b", acme, string(mod), "Content-Type", "application/wasm")
}

// TestPurgeFlood: a tenant's purges per minute are bounded (429 with
// Retry-After, nothing written, other tenants unaffected), and the kept
// purges are listed once a minute, not once a purge; the expired ones
// are deleted then.
func TestPurgeFlood(t *testing.T) {
	cs := &countingStore{}
	f := newAPIConf(t, 0, func(s store.Store) store.Store { cs.Store = s; return cs }, nil)
	clk := newClock(f.admin)
	acme := f.tenant("acme", "acme.test")
	globex := f.tenant("globex", "globex.test")
	f.must(200, "PUT", "/v1/tenants/acme", opToken, `{"limits":{"quotas":{"purges_per_minute":3}}}`)
	purge := `{"url":"http://acme.test/a"}`
	for range 3 {
		f.must(200, "POST", "/v1/tenants/acme/purge", acme, purge)
		clk.add(time.Millisecond) // purges are kept by time: one apiece
	}
	before := f.rev()
	r := f.do("POST", "/v1/tenants/acme/purge", acme, []byte(purge))
	if r.hdr.Get("Retry-After") != "20" {
		t.Errorf("Retry-After %q, want 20 (3 a minute)", r.hdr.Get("Retry-After"))
	}
	f.refused(r, 429, `tenant "acme": quota purges_per_minute (3) reached: retry in 20s; nothing was purged`, before)
	f.must(200, "POST", "/v1/tenants/globex/purge", globex, `{"host":"globex.test"}`)
	clk.add(20 * time.Second)
	f.must(200, "POST", "/v1/tenants/acme/purge", acme, purge)
	if n := cs.purgeLists.Load(); n != 1 {
		t.Fatalf("5 purges in a minute listed the kept purges %d times, want 1", n)
	}
	kept := func() int {
		kvs, _, err := cs.Store.List(context.Background(), purgesPrefix)
		if err != nil {
			t.Fatal(err)
		}
		return len(kvs)
	}
	if n := kept(); n != 5 {
		t.Fatalf("%d purges kept, want 5", n)
	}
	// An hour on, the next purge deletes the 5 expired ones.
	clk.add(purgeKeep + time.Second)
	f.must(200, "POST", "/v1/tenants/globex/purge", globex, `{"host":"globex.test"}`)
	if n := cs.purgeLists.Load(); n != 2 {
		t.Fatalf("kept purges listed %d times, want 2", n)
	}
	if n := kept(); n != 1 {
		t.Fatalf("%d purges kept after the sweep, want 1", n)
	}
}

// TestPurgeSweepDeletesInBatches: more expired purges than one
// transaction may delete all go.
func TestPurgeSweepDeletesInBatches(t *testing.T) {
	f := newAPI(t, 0)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range store.MaxTxnOps*2 + 5 {
		if _, err := f.store.Txn(context.Background(), nil, []store.Op{{Key: purgeKey(at.Add(time.Duration(i)), "n"), Value: []byte("{}")}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.admin.sweepPurges(context.Background(), at.Add(purgeKeep+time.Hour)); err != nil {
		t.Fatal(err)
	}
	if kvs, _, _ := f.store.List(context.Background(), purgesPrefix); len(kvs) != 0 {
		t.Fatalf("%d expired purges left", len(kvs))
	}
}

// TestRouteChecksUseTheUploadPool: a route change whose filters must be
// started takes a worker of the same pool as uploads, and is 429 when
// the queue is full; a change that starts no filter does not wait.
func TestRouteChecksUseTheUploadPool(t *testing.T) {
	f := newAPIConf(t, 0, nil, func(api *TenantAPI) { api.Uploads = config.Uploads{Workers: 1, Queue: 1} })
	acme := f.tenant("acme", "acme.test")
	f.must(201, "PUT", "/v1/tenants/acme/filters/h", acme, string(readModule(t, "bin/wat/add_header.wasm")), "Content-Type", "application/wasm")
	routes := `{"routes":[{"respond":{"status":204},"filters":[{"name":"h","module":"h"}]}]}`
	if err := f.admin.uploads.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	queued := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequest("PUT", f.url+"/v1/tenants/acme/routes", strings.NewReader(routes))
		req.Header.Set("Authorization", "Bearer "+acme)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			queued <- reply{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		queued <- reply{status: resp.StatusCode, body: string(b)}
	}()
	eventually(t, "the route check waits for a worker", func() bool { return f.admin.uploads.queued() == 1 })
	before := f.rev()
	f.refused(f.do("PUT", "/v1/tenants/acme/routes", acme, []byte(routes)), 429, "the node is checking 1 uploads with 1 more waiting: retry; nothing was changed", before)
	f.must(201, "PUT", "/v1/tenants/acme/upstreams/web", acme, `{"endpoints":["127.0.0.1:9"]}`)
	f.admin.uploads.release()
	if r := <-queued; r.status != 200 {
		t.Fatalf("the queued route change: %d %s", r.status, r.body)
	}
}

// TestBucketsAreBounded: past max keys, new keys share the overflow
// bucket until refilled keys are dropped, which is searched for at most
// once a second.
func TestBucketsAreBounded(t *testing.T) {
	bs := newBuckets(2)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, k := range []string{"a", "b"} {
		if ok, _ := bs.take(k, t0, 1, 1); !ok {
			t.Fatalf("%s: first take refused", k)
		}
	}
	// Full, and a and b are spent: c and d share the overflow bucket.
	if ok, _ := bs.take("c", t0, 1, 1); !ok {
		t.Fatal("c: the overflow bucket starts full")
	}
	if ok, wait := bs.take("d", t0, 1, 1); ok || wait != time.Second {
		t.Fatalf("d: %v %v, want refused for 1s (the overflow bucket is spent)", ok, wait)
	}
	if len(bs.m) != 2 || bs.m["c"] != nil || bs.m["d"] != nil {
		t.Fatalf("keys %v, want a and b only", bs.m)
	}
	// Half a second on, a is full again, but the last search was less
	// than a second ago: f still gets the overflow bucket (half full).
	bs.m["a"].tokens = 1
	if ok, _ := bs.take("f", t0.Add(time.Second/2), 1, 1); ok || bs.m["f"] != nil || bs.m["a"] == nil {
		t.Fatalf("f: %v, keys %v, want refused from the overflow bucket", ok, bs.m)
	}
	// A second on, a and b have refilled: they make room for e.
	if ok, _ := bs.take("e", t0.Add(time.Second), 1, 1); !ok || bs.m["e"] == nil || len(bs.m) != 1 {
		t.Fatalf("e: %v, keys %v", ok, bs.m)
	}
}
