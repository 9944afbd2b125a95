package control

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wedgeproxy/wedge/edge/cache"
	"github.com/wedgeproxy/wedge/edge/control/store"
	"github.com/wedgeproxy/wedge/runtime"
)

// apiFixture is the admin API with the tenant layer on a real embedded
// store and a real WebAssembly engine, served over loopback HTTP.
type apiFixture struct {
	t     testing.TB
	admin *Admin
	store store.Store
	url   string
}

const opToken = "operator-secret"

// testCacheDir is a compilation cache shared by the runs of the tests.
var testCacheDir = filepath.Join(os.TempDir(), "wedge-test-wasm-cache")

func newAPI(t testing.TB, maxUpload int64) *apiFixture {
	t.Helper()
	return newAPIWith(t, maxUpload, nil)
}

// newAPIWith is newAPI with the API's store wrapped by wrap (for fault
// injection), unless wrap is nil.
func newAPIWith(t testing.TB, maxUpload int64, wrap func(store.Store) store.Store) *apiFixture {
	t.Helper()
	return newAPIConf(t, maxUpload, wrap, nil)
}

// newAPIConf is newAPIWith with the TenantAPI changed by conf (quotas,
// upload pool), unless conf is nil.
func newAPIConf(t testing.TB, maxUpload int64, wrap func(store.Store) store.Store, conf func(*TenantAPI)) *apiFixture {
	t.Helper()
	bolt, err := store.OpenBolt(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bolt.Close() })
	var st store.Store = bolt
	if wrap != nil {
		st = wrap(bolt)
	}
	e, err := runtime.NewEngine(context.Background(), runtime.Config{CacheDir: testCacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	c, err := cache.New(cache.Config{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAdmin(opToken, "", c)
	if err != nil {
		t.Fatal(err)
	}
	api := TenantAPI{
		Store: st, StoreType: "embedded", Engine: e, Modules: NewModules(st, "", 64<<20),
		MaxUploadBytes: maxUpload, Status: func() Status { return Status{Node: "test", Ready: true} },
	}
	if conf != nil {
		conf(&api)
	}
	a.EnableTenantAPI(api)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &apiFixture{t: t, admin: a, store: st, url: srv.URL}
}

// reply is one API answer.
type reply struct {
	status int
	hdr    http.Header
	body   string
}

func (r reply) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// do sends one request; hdr alternates names and values.
func (f *apiFixture) do(method, path, token string, body []byte, hdr ...string) reply {
	f.t.Helper()
	req, err := http.NewRequest(method, f.url+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// must sends a request that must answer want.
func (f *apiFixture) must(want int, method, path, token, body string, hdr ...string) reply {
	f.t.Helper()
	r := f.do(method, path, token, []byte(body), hdr...)
	if r.status != want {
		f.t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, want)
	}
	return r
}

// rev is the store's revision: a rejected request must leave it alone.
func (f *apiFixture) rev() int64 {
	f.t.Helper()
	r, err := f.store.Rev(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// tenant creates a tenant with domains and returns a token for it.
func (f *apiFixture) tenant(name string, domains ...string) string {
	f.t.Helper()
	f.must(201, "PUT", "/v1/tenants/"+name, opToken, "")
	for _, d := range domains {
		f.must(201, "PUT", "/v1/tenants/"+name+"/domains/"+d, opToken, "")
	}
	var tok Token
	f.must(201, "POST", "/v1/tenants/"+name+"/tokens", opToken, `{"description":"test"}`).json(f.t, &tok)
	if !strings.HasPrefix(tok.Token, "wedge_") || tok.ID == "" {
		f.t.Fatalf("token %+v", tok)
	}
	return tok.Token
}

func readModule(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatalf("%v (run make wat filters)", err)
	}
	return b
}

func TestTenantLifecycle(t *testing.T) {
	f := newAPI(t, 0)
	var tn Tenant
	r := f.must(201, "PUT", "/v1/tenants/acme", opToken, `{"limits":{"request_rate":50,"filter_call_deadline":"50ms"}}`)
	r.json(t, &tn)
	if tn.Name != "acme" || tn.Limits.RequestRate != 50 || tn.Limits.FilterCallDeadline.D().Milliseconds() != 50 || tn.Revision == 0 {
		t.Fatalf("created %+v", tn)
	}
	etag := r.hdr.Get("ETag")
	if etag == "" || r.hdr.Get("X-Wedge-Revision") == "" {
		t.Fatalf("headers %v", r.hdr)
	}
	f.must(200, "PUT", "/v1/tenants/acme", opToken, "limits: {cache_max_bytes: 1048576}\n", "If-Match", etag)
	// The same If-Match again is now stale: nothing is lost silently.
	before := f.rev()
	r = f.must(409, "PUT", "/v1/tenants/acme", opToken, `{"limits":{}}`, "If-Match", etag)
	if !strings.Contains(r.body, "changed since revision") || f.rev() != before {
		t.Fatalf("stale write: %s (rev %d → %d)", r.body, before, f.rev())
	}
	tn = Tenant{}
	f.must(200, "GET", "/v1/tenants/acme", opToken, "").json(t, &tn)
	if tn.Limits.CacheMaxBytes != 1<<20 || tn.Limits.RequestRate != 0 {
		t.Fatalf("after update: %+v", tn)
	}
	var list struct{ Tenants []Tenant }
	f.must(200, "GET", "/v1/tenants", opToken, "").json(t, &list)
	if len(list.Tenants) != 1 || list.Tenants[0].Name != "acme" {
		t.Fatalf("list %+v", list)
	}
	f.must(204, "DELETE", "/v1/tenants/acme", opToken, "")
	f.must(404, "GET", "/v1/tenants/acme", opToken, "")
	f.must(404, "DELETE", "/v1/tenants/acme", opToken, "")
}

func TestBadDocuments(t *testing.T) {
	f := newAPI(t, 0)
	f.tenant("acme", "acme.test")
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"bad tenant name", "PUT", "/v1/tenants/Acme!", "", 400, "tenant name"},
		{"unknown limit", "PUT", "/v1/tenants/acme", `{"limits":{"rate":1}}`, 400, `limits.rate: unknown field \"rate\"`},
		{"limit type", "PUT", "/v1/tenants/acme", `{"limits":{"request_rate":"fast"}}`, 400, "limits.request_rate"},
		{"negative limit", "PUT", "/v1/tenants/acme", `{"limits":{"cache_max_bytes":-1}}`, 400, "cache_max_bytes: must not be negative"},
		{"malformed json", "PUT", "/v1/tenants/acme/routes", `{"routes": [`, 400, "routes"},
		{"routes unknown field", "PUT", "/v1/tenants/acme/routes", "routes:\n  - upstreem: web\n", 400, `routes[0].upstreem: unknown field`},
		{"routes no pool", "PUT", "/v1/tenants/acme/routes", `{"routes":[{"upstream":"web"}]}`, 400, `routes[0].upstream: pool \"web\" is not defined`},
		{"routes empty", "PUT", "/v1/tenants/acme/routes", ``, 400, "empty body"},
		{"upstream no endpoint", "PUT", "/v1/tenants/acme/upstreams/web", `{"endpoints":[]}`, 400, "upstreams[web].endpoints: at least one endpoint is required"},
		{"upstream bad endpoint", "PUT", "/v1/tenants/acme/upstreams/web", `{"endpoints":["nope"]}`, 400, "upstreams[web].endpoints[0]"},
		{"upstream name mismatch", "PUT", "/v1/tenants/acme/upstreams/web", `{"name":"api","endpoints":["127.0.0.1:1"]}`, 400, "differs"},
		{"upstream bad name", "PUT", "/v1/tenants/acme/upstreams/-x", `{"endpoints":["127.0.0.1:1"]}`, 400, "upstream name"},
		{"bad domain", "PUT", "/v1/tenants/acme/domains/a..b", ``, 400, "is not a domain name"},
		{"bad if-match", "PUT", "/v1/tenants/acme", `{}`, 400, "If-Match"},
		{"unknown tenant", "GET", "/v1/tenants/nobody/routes", ``, 404, `no tenant \"nobody\"`},
		{"unknown filter", "GET", "/v1/tenants/acme/filters/x", ``, 404, `no filter \"x\"`},
		{"unknown pool", "DELETE", "/v1/tenants/acme/upstreams/x", ``, 404, `no upstream pool \"x\"`},
		{"unknown token", "DELETE", "/v1/tenants/acme/tokens/t_x", ``, 404, `no token`},
		{"unknown domain", "DELETE", "/v1/tenants/acme/domains/x.test", ``, 404, `no domain`},
		{"tenant config dup pool", "PUT", "/v1/tenants/acme/config", `{"upstreams":[{"name":"a","endpoints":["127.0.0.1:1"]},{"name":"a","endpoints":["127.0.0.1:1"]}],"routes":[]}`, 400, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.rev()
			var hdr []string
			if tt.name == "bad if-match" {
				hdr = []string{"If-Match", "yesterday"}
			}
			r := f.must(tt.status, tt.method, tt.path, opToken, tt.body, hdr...)
			if !strings.Contains(r.body, tt.want) {
				t.Errorf("body %s, want it to contain %s", r.body, tt.want)
			}
			if f.rev() != before {
				t.Errorf("the store changed (%d → %d) on a rejected request", before, f.rev())
			}
		})
	}
}

func TestDomainsBelongToOneTenant(t *testing.T) {
	f := newAPI(t, 0)
	f.tenant("acme", "acme.test")
	f.tenant("globex", "globex.test")
	before := f.rev()
	r := f.must(409, "PUT", "/v1/tenants/globex/domains/ACME.test", opToken, "")
	if !strings.Contains(r.body, "belongs to another tenant") || f.rev() != before {
		t.Fatalf("%s", r.body)
	}
	f.must(200, "PUT", "/v1/tenants/acme/domains/acme.test", opToken, "")
	// A route that names the domain keeps it from being removed.
	f.must(201, "PUT", "/v1/tenants/acme/upstreams/web", opToken, `{"endpoints":["127.0.0.1:9"]}`)
	f.must(200, "PUT", "/v1/tenants/acme/routes", opToken, `{"routes":[{"match":{"domains":["acme.test"]},"upstream":"web"}]}`)
	r = f.must(400, "DELETE", "/v1/tenants/acme/domains/acme.test", opToken, "")
	if !strings.Contains(r.body, "routes[0].match.domains[0]") {
		t.Fatalf("%s", r.body)
	}
	f.must(200, "PUT", "/v1/tenants/acme/routes", opToken, `{"routes":[{"upstream":"web"}]}`)
	f.must(204, "DELETE", "/v1/tenants/acme/domains/acme.test", opToken, "")
	f.must(201, "PUT", "/v1/tenants/globex/domains/acme.test", opToken, "")
	// Deleting a tenant frees its domains.
	f.must(204, "DELETE", "/v1/tenants/globex", opToken, "")
	f.must(201, "PUT", "/v1/tenants/acme/domains/acme.test", opToken, "")
}

func TestTokens(t *testing.T) {
	f := newAPI(t, 0)
	acme := f.tenant("acme", "acme.test")
	globex := f.tenant("globex", "globex.test")
	f.must(200, "GET", "/v1/tenants/acme", acme, "")
	r := f.must(401, "GET", "/v1/tenants/acme", "", "")
	if r.hdr.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	f.must(401, "GET", "/v1/tenants/acme", "wedge_guess", "")
	// Tokens are compared as SHA-256 digests (the operator's with
	// subtle.ConstantTimeCompare, tenants' by digest lookup), so a near
	// miss — a prefix, an extension, one byte changed — is as unknown as
	// a guess.
	flip := func(s string) string { b := []byte(s); b[len(b)-1] ^= 1; return string(b) }
	for _, near := range []string{opToken + "x", opToken[:len(opToken)-1], flip(opToken), acme[:len(acme)-1], acme + "0", flip(acme), " " + acme} {
		f.must(401, "GET", "/v1/tenants/acme", near, "")
	}
	var toks struct{ Tokens []Token }
	f.must(200, "GET", "/v1/tenants/acme/tokens", opToken, "").json(t, &toks)
	if len(toks.Tokens) != 1 || toks.Tokens[0].Token != "" {
		t.Fatalf("tokens %+v: the secret must never be shown again", toks)
	}
	// The store holds only the token's hash.
	kvs, _, err := f.store.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if bytes.Contains(kv.Value, []byte(acme)) || strings.Contains(kv.Key, acme) {
			t.Fatalf("the token is stored in clear at %s", kv.Key)
		}
	}
	f.must(204, "DELETE", "/v1/tenants/acme/tokens/"+toks.Tokens[0].ID, opToken, "")
	f.must(401, "GET", "/v1/tenants/acme", acme, "")
	f.must(200, "GET", "/v1/tenants/globex", globex, "")
}

// TestTenantIsolation: a tenant's token reaches only its own objects,
// and nothing of a refused request lands.
func TestTenantIsolation(t *testing.T) {
	f := newAPI(t, 0)
	acme := f.tenant("acme", "acme.test")
	f.tenant("globex", "globex.test")
	f.must(201, "PUT", "/v1/tenants/globex/upstreams/gpool", opToken, `{"endpoints":["127.0.0.1:9"]}`)
	f.must(201, "PUT", "/v1/tenants/globex/filters/gfilter", opToken, string(readModule(t, "bin/wat/add_header.wasm")), "Content-Type", "application/wasm")
	f.must(201, "PUT", "/v1/tenants/acme/upstreams/web", acme, `{"endpoints":["127.0.0.1:9"]}`)
	forbidden := []struct{ method, path, body string }{
		{"GET", "/v1/tenants/globex", ""},
		{"GET", "/v1/tenants/globex/routes", ""},
		{"GET", "/v1/tenants/globex/filters", ""},
		{"GET", "/v1/tenants/globex/upstreams/gpool", ""},
		{"PUT", "/v1/tenants/globex/routes", `{"routes":[]}`},
		{"PUT", "/v1/tenants/globex/upstreams/x", `{"endpoints":["127.0.0.1:9"]}`},
		{"PUT", "/v1/tenants/globex/filters/x", "\x00asm"},
		{"DELETE", "/v1/tenants/globex/filters/gfilter", ""},
		{"POST", "/v1/tenants/globex/filters/gfilter/rollback", ""},
		{"POST", "/v1/tenants/globex/purge", `{"tag":"all"}`},
		{"PUT", "/v1/tenants/globex/config", `{"routes":[]}`},
		// Operator-only, even on its own tenant.
		{"PUT", "/v1/tenants/acme", `{"limits":{}}`},
		{"PUT", "/v1/tenants/acme/domains/globex.test", ""},
		{"PUT", "/v1/tenants/acme/domains/new.test", ""},
		{"POST", "/v1/tenants/acme/tokens", ""},
		{"DELETE", "/v1/tenants/globex", ""},
		{"GET", "/v1/tenants", ""},
		{"GET", "/v1/nodes", ""},
	}
	for _, tt := range forbidden {
		before := f.rev()
		r := f.must(403, tt.method, tt.path, acme, tt.body)
		if f.rev() != before {
			t.Errorf("%s %s: refused, but the store changed", tt.method, tt.path)
		}
		_ = r
	}
	// Its own routes may not reach another tenant's pool, filter or
	// domain: they are not its names.
	refused := []struct{ body, want string }{
		{`{"routes":[{"upstream":"gpool"}]}`, `pool \"gpool\" is not defined`},
		{`{"routes":[{"upstream":"web","filters":[{"name":"f","module":"gfilter"}]}]}`, `tenant \"acme\" has no filter \"gfilter\"`},
		{`{"routes":[{"upstream":"web","match":{"domains":["globex.test"]}}]}`, `routes[0].match.domains[0]`},
		{`{"routes":[{"upstream":"web","filters":[{"name":"f","module":"/etc/passwd"}]}]}`, `has no filter \"/etc/passwd\"`},
		{`{"routes":[{"upstream":"web","filters":[{"name":"f","module":"sha256:` + strings.Repeat("ab", 32) + `"}]}]}`, `has no filter`},
	}
	for _, tt := range refused {
		before := f.rev()
		r := f.must(400, "PUT", "/v1/tenants/acme/routes", acme, tt.body)
		if !strings.Contains(r.body, tt.want) || f.rev() != before {
			t.Errorf("routes %s: %s, want %s and no change", tt.body, r.body, tt.want)
		}
	}
	// Purging another tenant's host through its own tenant is refused.
	r := f.must(403, "POST", "/v1/tenants/acme/purge", acme, `{"host":"globex.test"}`)
	if !strings.Contains(r.body, "not one of tenant") {
		t.Errorf("purge: %s", r.body)
	}
	f.must(200, "POST", "/v1/tenants/acme/purge", acme, `{"host":"acme.test"}`)
}

func TestFilterUploads(t *testing.T) {
	f := newAPI(t, 8<<20)
	acme := f.tenant("acme", "acme.test")
	wasm := "application/wasm"
	add := readModule(t, "bin/wat/add_header.wasm")
	echo := readModule(t, "bin/wat/config_echo.wasm")

	var fl Filter
	f.must(201, "PUT", "/v1/tenants/acme/filters/stamp", acme, string(add), "Content-Type", wasm).json(t, &fl)
	if fl.Version != 1 || len(fl.SHA256) != 64 || fl.Size != int64(len(add)) {
		t.Fatalf("first upload %+v", fl)
	}
	before := f.rev()
	f.must(200, "PUT", "/v1/tenants/acme/filters/stamp", acme, string(add), "Content-Type", wasm).json(t, &fl)
	if fl.Version != 1 || f.rev() != before {
		t.Fatalf("same bytes again made a version: %+v", fl)
	}
	f.must(201, "PUT", "/v1/tenants/acme/filters/stamp", acme, string(echo), "Content-Type", wasm).json(t, &fl)
	if fl.Version != 2 || len(fl.Versions) != 2 {
		t.Fatalf("second version %+v", fl)
	}

	bad := []struct {
		name, body, ctype string
		status            int
		want              string
	}{
		{"not wasm", "hello, world", wasm, 400, "the module is refused"},
		{"no abi", string(readModule(t, "bin/wat/no_abi.wasm")), wasm, 400, "ABI"},
		{"unknown host module", string(readModule(t, "bin/wat/unknown_module.wasm")), wasm, 400, "the module is refused"},
		{"too big", strings.Repeat("x", 8<<20+1), wasm, 413, "larger than"},
		{"content type", string(add), "application/json", 415, "application/wasm"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			before := f.rev()
			r := f.must(tt.status, "PUT", "/v1/tenants/acme/filters/other", acme, tt.body, "Content-Type", tt.ctype)
			if !strings.Contains(r.body, tt.want) || f.rev() != before {
				t.Errorf("%s (rev %d → %d), want %q and no change", r.body, before, f.rev(), tt.want)
			}
		})
	}

	// A route uses the filter: it cannot be deleted, and the route is
	// checked with the filter's configuration.
	f.must(201, "PUT", "/v1/tenants/acme/upstreams/web", acme, `{"endpoints":["127.0.0.1:9"]}`)
	f.must(200, "PUT", "/v1/tenants/acme/routes", acme, `{"routes":[{"upstream":"web","filters":[{"name":"s","module":"stamp","config":"ok"}]}]}`)
	// A new version that refuses the configuration a route gives it is
	// refused, and the route keeps the version it has.
	before = f.rev()
	r := f.must(400, "PUT", "/v1/tenants/acme/filters/stamp", acme, string(readModule(t, "bin/filters/headers.wasm")), "Content-Type", wasm)
	if !strings.Contains(r.body, "does not start") || !strings.Contains(r.body, "proxy_on_configure") || f.rev() != before {
		t.Fatalf("a version its routes cannot use: %s", r.body)
	}
	r = f.must(409, "DELETE", "/v1/tenants/acme/filters/stamp", acme, "")
	if !strings.Contains(r.body, "routes[0].filters[0]") {
		t.Fatalf("delete in use: %s", r.body)
	}
	r = f.must(409, "DELETE", "/v1/tenants/acme/upstreams/web", acme, "")
	if !strings.Contains(r.body, "routes[0].upstream") {
		t.Fatalf("delete pool in use: %s", r.body)
	}
	// Roll back to version 1, then forward to 2 by number.
	f.must(200, "POST", "/v1/tenants/acme/filters/stamp/rollback", acme, "").json(t, &fl)
	if fl.Version != 1 {
		t.Fatalf("rollback %+v", fl)
	}
	r = f.must(404, "POST", "/v1/tenants/acme/filters/stamp/rollback", acme, `{"version":7}`)
	if !strings.Contains(r.body, "kept: 1, 2") {
		t.Fatalf("rollback to a missing version: %s", r.body)
	}
	f.must(200, "POST", "/v1/tenants/acme/filters/stamp/rollback", acme, `{"version":2}`).json(t, &fl)
	if fl.Version != 2 {
		t.Fatalf("roll forward %+v", fl)
	}
	f.must(200, "PUT", "/v1/tenants/acme/routes", acme, `{"routes":[{"upstream":"web"}]}`)
	f.must(204, "DELETE", "/v1/tenants/acme/filters/stamp", acme, "")
	f.must(404, "GET", "/v1/tenants/acme/filters/stamp", acme, "")
}

// TestRouteFilterRefusesConfig: a route whose filter refuses its
// configuration is refused as a whole, with the reason.
func TestRouteFilterRefusesConfig(t *testing.T) {
	f := newAPI(t, 0)
	acme := f.tenant("acme", "acme.test")
	f.must(201, "PUT", "/v1/tenants/acme/filters/headers", acme, string(readModule(t, "bin/filters/headers.wasm")), "Content-Type", "application/wasm")
	f.must(201, "PUT", "/v1/tenants/acme/upstreams/web", acme, `{"endpoints":["127.0.0.1:9"]}`)
	before := f.rev()
	r := f.must(400, "PUT", "/v1/tenants/acme/routes", acme, "routes:\n  - upstream: web\n    filters:\n      - name: h\n        module: headers\n        config: {request: {sett: {X-A: b}}}\n")
	if !strings.Contains(r.body, "does not start") || f.rev() != before {
		t.Fatalf("%s", r.body)
	}
	var rs Routes
	f.must(200, "PUT", "/v1/tenants/acme/routes", acme, "routes:\n  - upstream: web\n    filters:\n      - name: h\n        module: headers\n        config: {response: {set: {X-Hi: there}}}\n").json(t, &rs)
	if len(rs.Routes) != 1 || !strings.Contains(string(rs.Routes[0]), `"module":"headers"`) {
		t.Fatalf("routes as written: %s", rs.Routes)
	}
}

// TestConcurrentEditsNeverLoseAChange: two writers with the same If-Match
// both try; exactly one wins and the other is told.
func TestConcurrentEditsNeverLoseAChange(t *testing.T) {
	f := newAPI(t, 0)
	acme := f.tenant("acme", "acme.test")
	f.must(201, "PUT", "/v1/tenants/acme/upstreams/web", acme, `{"endpoints":["127.0.0.1:9"]}`)
	r := f.must(200, "PUT", "/v1/tenants/acme/routes", acme, `{"routes":[{"upstream":"web"}]}`)
	etag := r.hdr.Get("ETag")
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() {
			body := `{"routes":[{"name":"r` + string(rune('a'+i)) + `","upstream":"web"}]}`
			statuses[i] = f.do("PUT", "/v1/tenants/acme/routes", acme, []byte(body), "If-Match", etag).status
		})
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case 200:
			won++
		case 409:
		default:
			t.Errorf("status %d", s)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers won with the same If-Match: %v", won, statuses)
	}
	// Without If-Match, concurrent writers to different objects all land.
	for i := range 6 {
		wg.Go(func() {
			name := "pool" + string(rune('a'+i))
			if s := f.do("PUT", "/v1/tenants/acme/upstreams/"+name, acme, []byte(`{"endpoints":["127.0.0.1:9"]}`)).status; s != 201 {
				t.Errorf("PUT %s: %d", name, s)
			}
		})
	}
	wg.Wait()
	var ups struct{ Upstreams []Upstream }
	f.must(200, "GET", "/v1/tenants/acme/upstreams", acme, "").json(t, &ups)
	if len(ups.Upstreams) != 7 {
		t.Fatalf("%d pools, want 7", len(ups.Upstreams))
	}
}

func TestTenantConfigReplacesPoolsAndRoutes(t *testing.T) {
	f := newAPI(t, 0)
	acme := f.tenant("acme", "acme.test")
	f.must(201, "PUT", "/v1/tenants/acme/upstreams/old", acme, `{"endpoints":["127.0.0.1:9"]}`)
	f.must(200, "PUT", "/v1/tenants/acme/routes", acme, `{"routes":[{"upstream":"old"}]}`)
	// Moving routes to a new pool and dropping the old one is one change.
	var tc TenantConfig
	f.must(200, "PUT", "/v1/tenants/acme/config", acme, "upstreams:\n  - name: new\n    endpoints: [127.0.0.1:10]\nroutes:\n  - upstream: new\n").json(t, &tc)
	if len(tc.Upstreams) != 1 || tc.Upstreams[0].Name != "new" || len(tc.Routes) != 1 {
		t.Fatalf("config %+v", tc)
	}
	f.must(404, "GET", "/v1/tenants/acme/upstreams/old", acme, "")
	before := f.rev()
	r := f.must(400, "PUT", "/v1/tenants/acme/config", acme, `{"upstreams":[],"routes":[{"upstream":"new"}]}`)
	if !strings.Contains(r.body, `routes[0].upstream: pool \"new\" is not defined`) || f.rev() != before {
		t.Fatalf("%s", r.body)
	}
}

// TestOpenAPICoversEveryRoute: the document in the repository names every
// path and method the API serves.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	f := newAPI(t, 0)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	f.must(200, "GET", "/v1/openapi.json", "", "").json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	for _, p := range f.admin.patterns {
		method, path, _ := strings.Cut(p, " ")
		ops, ok := doc.Paths[path]
		if !ok {
			t.Errorf("openapi.json lacks path %s", path)
			continue
		}
		if _, ok := ops[strings.ToLower(method)]; !ok {
			t.Errorf("openapi.json lacks %s %s", method, path)
		}
	}
}

// FuzzPutRoutes: whatever the body, the API answers 200 or a 4xx, never
// a 5xx, and a refused body changes nothing.
func FuzzPutRoutes(f *testing.F) {
	for _, s := range []string{
		`{"routes":[{"upstream":"web"}]}`,
		"routes:\n  - match: {path_prefix: /a}\n    respond: {status: 204}\n",
		`{"routes":[{"upstream":"web","filters":[{"name":"x","module":"x"}]}]}`,
		"routes: &a [*a]",
		"routes:\n  - <<: {upstream: web}\n",
		`{"routes":[{"match":{"path_regex":"("}}]}`,
		"{",
	} {
		f.Add([]byte(s))
	}
	api := newAPI(f, 0)
	api.tenant("acme", "acme.test")
	api.must(201, "PUT", "/v1/tenants/acme/upstreams/web", opToken, `{"endpoints":["127.0.0.1:9"]}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		api.t = t
		before := api.rev()
		r := api.do("PUT", "/v1/tenants/acme/routes", opToken, body)
		switch {
		case r.status == 200:
		case r.status >= 400 && r.status < 500:
			if api.rev() != before {
				t.Fatalf("refused (%d %s) but the store changed", r.status, r.body)
			}
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
}

// TestTenantConfigUnchangedPoolKeepsItsRevision: PUT …/config answered the
// write's revision for every pool, though a pool it did not change keeps
// its revision in the store (and GET …/upstreams/NAME says so).
func TestTenantConfigUnchangedPoolKeepsItsRevision(t *testing.T) {
	f := newAPI(t, 0)
	acme := f.tenant("acme", "acme.test")
	f.must(200, "PUT", "/v1/tenants/acme/config", acme, `{"upstreams":[{"name":"a","endpoints":["127.0.0.1:1"]},{"name":"b","endpoints":["127.0.0.1:2"]}],"routes":[]}`)
	var tc TenantConfig
	f.must(200, "PUT", "/v1/tenants/acme/config", acme, `{"upstreams":[{"name":"a","endpoints":["127.0.0.1:1"]},{"name":"b","endpoints":["127.0.0.1:3"]}],"routes":[]}`).json(t, &tc)
	for _, u := range tc.Upstreams {
		var got Upstream
		f.must(200, "GET", "/v1/tenants/acme/upstreams/"+u.Name, acme, "").json(t, &got)
		if u.Revision != got.Revision {
			t.Errorf("pool %s: PUT config answered revision %d, GET answers %d", u.Name, u.Revision, got.Revision)
		}
	}
	if tc.Upstreams[0].Revision == tc.Revision || tc.Upstreams[1].Revision != tc.Revision {
		t.Errorf("unchanged pool a at %d, changed pool b at %d, write at %d", tc.Upstreams[0].Revision, tc.Upstreams[1].Revision, tc.Revision)
	}
}

// TestIfMatchOnDomainsAndTokens: a conditional domain claim or token
// revocation is as conditional as any other write.
func TestIfMatchOnDomainsAndTokens(t *testing.T) {
	f := newAPI(t, 0)
	f.tenant("acme")
	r := f.must(201, "PUT", "/v1/tenants/acme/domains/a.test", opToken, "")
	claim := r.hdr.Get("ETag")
	if claim == "" {
		t.Fatal("a domain claim without an ETag")
	}
	f.must(200, "PUT", "/v1/tenants/acme/domains/a.test", opToken, "", "If-Match", claim)
	before := f.rev()
	r = f.must(409, "PUT", "/v1/tenants/acme/domains/a.test", opToken, "", "If-Match", `"999"`)
	if !strings.Contains(r.body, `domain \"a.test\" changed since revision 999`) {
		t.Errorf("stale If-Match on a claim: %s", r.body)
	}
	r = f.must(409, "PUT", "/v1/tenants/acme/domains/b.test", opToken, "", "If-Match", claim)
	if !strings.Contains(r.body, `domain \"b.test\" does not exist`) {
		t.Errorf("If-Match on a domain not the tenant's: %s", r.body)
	}
	if f.rev() != before {
		t.Fatal("a refused conditional claim changed the store")
	}

	var tok Token
	r = f.must(201, "POST", "/v1/tenants/acme/tokens", opToken, "")
	r.json(t, &tok)
	made := r.hdr.Get("ETag")
	r = f.must(409, "DELETE", "/v1/tenants/acme/tokens/"+tok.ID, opToken, "", "If-Match", `"1"`)
	if !strings.Contains(r.body, "changed since revision 1") || f.rev() != before+1 {
		t.Errorf("stale If-Match on a revocation: %s", r.body)
	}
	f.must(200, "GET", "/v1/tenants/acme", tok.Token, "")
	f.must(204, "DELETE", "/v1/tenants/acme/tokens/"+tok.ID, opToken, "", "If-Match", made)
	f.must(401, "GET", "/v1/tenants/acme", tok.Token, "")
}
