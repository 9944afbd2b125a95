package control

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wedgeproxy/wedge/edge/cache"
	"github.com/wedgeproxy/wedge/edge/config"
)

func hashHex(tok string) string { s := sha256.Sum256([]byte(tok)); return hex.EncodeToString(s[:]) }

// fixture is a cache in front of a counting origin, two tenants with
// tokens, and the admin API.
type fixture struct {
	admin  *Admin
	c      *cache.Cache
	fronts map[string]http.Handler // tenant → cached handler
	asked  atomic.Int32
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	c, err := cache.New(cache.Config{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAdmin("operator-secret", "", c)
	if err != nil {
		t.Fatal(err)
	}
	a.SetTenants([]config.Tenant{
		{Name: "acme", Domains: []string{"acme.test", "*.acme.test"}, TokenSHA256: hashHex("acme-secret")},
		{Name: "globex", Domains: []string{"globex.test"}, TokenSHA256: hashHex("globex-secret")},
	})
	f := &fixture{admin: a, c: c, fronts: map[string]http.Handler{}}
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.asked.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Surrogate-Key", "all "+strings.TrimPrefix(r.URL.Path, "/"))
		fmt.Fprintf(w, "%s%s", r.Host, r.URL.Path)
	})
	for _, tn := range []string{"acme", "globex"} {
		f.fronts[tn] = c.Handler(tn, cache.Policy{}, origin)
	}
	return f
}

// get fetches through tenant's cache and reports whether it was a hit.
func (f *fixture) get(t *testing.T, tenant, host, path string) bool {
	t.Helper()
	before := f.asked.Load()
	r := httptest.NewRequest("GET", "http://"+host+path, nil)
	w := httptest.NewRecorder()
	f.fronts[tenant].ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("GET %s%s: %d", host, path, w.Code)
	}
	return f.asked.Load() == before
}

func (f *fixture) purge(t *testing.T, token, tenant, body string) (int, string) {
	t.Helper()
	r := httptest.NewRequest("POST", "/v1/tenants/"+tenant+"/purge", strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	f.admin.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func TestPurgeAuthorization(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, token, tenant, body string
		code                      int
		want                      string
	}{
		{"no token", "", "acme", `{"tag":"all"}`, 401, "missing bearer token"},
		{"unknown token", "guess", "acme", `{"tag":"all"}`, 401, "invalid token"},
		{"another tenant's token", "globex-secret", "acme", `{"tag":"all"}`, 403, "may not act"},
		{"another tenant's token, unknown tenant", "globex-secret", "nobody", `{"tag":"all"}`, 403, "may not act"},
		{"own token", "acme-secret", "acme", `{"tag":"all"}`, 200, `"purged"`},
		{"operator", "operator-secret", "globex", `{"tag":"all"}`, 200, `"purged"`},
		{"operator, unknown tenant", "operator-secret", "nobody", `{"tag":"all"}`, 404, `no tenant \"nobody\"`},
		{"malformed JSON", "acme-secret", "acme", `{"tag":`, 400, "body:"},
		{"unknown field", "acme-secret", "acme", `{"tags":"x"}`, 400, `unknown field \"tags\"`},
		{"two targets", "acme-secret", "acme", `{"tag":"x","host":"acme.test"}`, 400, "exactly one"},
		{"no target", "acme-secret", "acme", `{}`, 400, "exactly one"},
		{"relative url", "acme-secret", "acme", `{"url":"/x"}`, 400, "absolute http(s) URL"},
		{"foreign url", "acme-secret", "acme", `{"url":"http://globex.test/x"}`, 403, "not one of tenant"},
		{"foreign host", "acme-secret", "acme", `{"host":"globex.test"}`, 403, "not one of tenant"},
		{"body too large", "acme-secret", "acme", `{"tag":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.purge(t, tt.token, tt.tenant, tt.body)
			if code != tt.code || !strings.Contains(body, tt.want) {
				t.Errorf("got %d %s, want %d containing %s", code, body, tt.code, tt.want)
			}
		})
	}
}

func TestPurgeRemovesOnlyWhatWasAsked(t *testing.T) {
	f := newFixture(t)
	fill := func() {
		for _, u := range []struct{ tenant, host, path string }{
			{"acme", "acme.test", "/a"}, {"acme", "acme.test", "/b"}, {"acme", "www.acme.test:8080", "/a"},
			{"globex", "globex.test", "/a"},
		} {
			f.get(t, u.tenant, u.host, u.path)
		}
	}
	fill()
	if !f.get(t, "acme", "acme.test", "/a") {
		t.Fatal("second fetch was not a hit")
	}

	if code, body := f.purge(t, "acme-secret", "acme", `{"url":"http://acme.test/a"}`); code != 200 || !strings.Contains(body, `"purged":1`) {
		t.Fatalf("purge url: %d %s", code, body)
	}
	if f.get(t, "acme", "acme.test", "/a") {
		t.Error("purged URL still served from cache")
	}
	if !f.get(t, "acme", "acme.test", "/b") || !f.get(t, "globex", "globex.test", "/a") {
		t.Error("purging one URL removed others")
	}

	// A host without a port purges every port of it.
	if code, body := f.purge(t, "acme-secret", "acme", `{"host":"www.acme.test"}`); code != 200 || !strings.Contains(body, `"purged":1`) {
		t.Fatalf("purge host: %d %s", code, body)
	}
	if f.get(t, "acme", "www.acme.test:8080", "/a") {
		t.Error("purged host still served from cache")
	}

	// A tag purges only the tenant's own entries.
	fill()
	if code, body := f.purge(t, "acme-secret", "acme", `{"tag":"b"}`); code != 200 || !strings.Contains(body, `"purged":1`) {
		t.Fatalf("purge tag: %d %s", code, body)
	}
	if f.get(t, "acme", "acme.test", "/b") {
		t.Error("tagged entry still served")
	}
	f.purge(t, "acme-secret", "acme", `{"tag":"all"}`)
	if !f.get(t, "globex", "globex.test", "/a") {
		t.Error("a tenant's purge removed another tenant's entry")
	}
}

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	w := httptest.NewRecorder()
	f.admin.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	if b, _ := io.ReadAll(w.Body); w.Code != 200 || string(b) != "ok\n" {
		t.Fatalf("healthz: %d %q", w.Code, b)
	}
}

func FuzzPurgeBody(f *testing.F) {
	for _, s := range []string{`{"tag":"a"}`, `{"url":"http://acme.test/x?y"}`, `{"host":"acme.test:80"}`, `{`, `[]`, `{"url":"http://[::1"}`} {
		f.Add(s)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/v1/tenants/acme/purge", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer acme-secret")
		w := httptest.NewRecorder()
		fx.admin.ServeHTTP(w, r)
		if w.Code != 200 && w.Code != 400 && w.Code != 403 && w.Code != 413 {
			t.Fatalf("status %d for %q", w.Code, body)
		}
	})
}
