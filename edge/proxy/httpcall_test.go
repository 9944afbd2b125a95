package proxy

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// authService is a loopback authorization service: "Bearer good" is
// alice, anything else gets 401. It records the checks it is sent.
type authService struct {
	srv  *httptest.Server
	hits atomic.Int32
	mu   sync.Mutex
	last *http.Request // the last check, body-less
}

func newAuthService(t *testing.T) *authService {
	a := &authService{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		a.mu.Lock()
		a.last = r.Clone(r.Context())
		a.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer good" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="test"`)
			w.Header().Set("X-User", "mallory") // not applied: a refusal
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "login required")
			return
		}
		w.Header().Set("X-User", "alice")
		w.Header().Set("X-Internal", "not allowed")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authService) lastCheck() *http.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// syncBuffer collects the filters' log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// callFront is filterRoutes with more upstream pools in the tenant than
// the origin (which it starts, counting its requests), and the filters'
// logs kept.
func callFront(t *testing.T, pools []config.Upstream, routes ...config.Route) (front string, originHits *atomic.Int32, logs *syncBuffer) {
	t.Helper()
	originHits = new(atomic.Int32)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originHits.Add(1)
		for k, vv := range r.Header {
			w.Header()["X-Got-"+k] = vv
		}
		body, _ := io.ReadAll(r.Body)
		w.Write([]byte("hello " + string(body)))
	}))
	t.Cleanup(origin.Close)
	logs = &syncBuffer{}
	s := New(nil)
	s.UseFilters(Filters{Engine: testEngine(t),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	for ri := range routes {
		fs := routes[ri].Filters
		for i := range fs {
			if !filepath.IsAbs(fs[i].Module) {
				fs[i].Module = filepath.Join("..", "..", fs[i].Module)
			}
		}
	}
	ups := append([]config.Upstream{{Name: "origin", Endpoints: []string{origin.Listener.Addr().String()}}}, pools...)
	snap, err := s.Build([]config.Tenant{{Name: "t", Domains: []string{"site.test"}, Upstreams: ups, Routes: routes}})
	if err != nil {
		t.Fatal(err)
	}
	s.Swap(snap)
	t.Cleanup(func() { closeUnused(s.snap.Load(), nil) })
	srv := httptest.NewServer(s.Handler(Listener{Name: "test"}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), originHits, logs
}

// extauth is the extauth filter calling the pool "auth", allowed to call
// the pools in calls.
func extauth(failure string, timeoutMS int, calls ...string) config.Filter {
	cfg := `{"upstream":"auth","path":"/check?v=1","forward_headers":["authorization","cookie"],` +
		`"allowed_response_headers":["x-user"],"failure":"` + failure + `"`
	if timeoutMS > 0 {
		cfg += `,"timeout_ms":` + strconv.Itoa(timeoutMS)
	}
	// A loaded machine (-race, parallel packages) must not fail a call
	// into the filter: its deadline is not what these tests are about.
	return config.Filter{Name: "extauth", Module: "bin/filters/extauth.wasm", HTTPUpstreams: calls,
		Config: config.FilterConfig(cfg + "}"), Limits: config.FilterLimits{CallDeadline: config.Duration(10 * time.Second)}}
}

// send makes a request to front with the given headers, and a body for a
// POST.
func send(t *testing.T, front, method, path, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, "http://"+front+path, rd)
	req.Host = "site.test"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestHTTPCallExtAuth runs bin/filters/extauth.wasm on a route whose
// tenant has the authorization service as a second pool: the filter's
// proxy_http_call goes through poolCaller to the real service over
// loopback, and its answer decides the request. The requests share one
// keep-alive connection: before 4dab1b3 an answer that came back while
// the POST's on_request_headers was returning made the runtime report
// Paused, and under load the next request on the connection started with
// a canceled context.
func TestHTTPCallExtAuth(t *testing.T) {
	auth := newAuthService(t)
	front, originHits, _ := callFront(t,
		[]config.Upstream{{Name: "auth", Endpoints: []string{auth.srv.Listener.Addr().String()}}},
		config.Route{Upstream: "origin", Filters: []config.Filter{extauth("deny", 0, "auth")}})

	tests := []struct {
		name, method, body string
		hdr                []string
		status             int
		wantBody           string
		wantUser           string // x-user the origin got
	}{
		{name: "allowed GET", method: "GET", hdr: []string{"Authorization", "Bearer good", "X-User", "spoofed", "Cookie", "sid=1", "X-Secret", "s3"},
			status: 200, wantBody: "hello ", wantUser: "alice"},
		{name: "allowed POST keeps its body", method: "POST", body: "payload", hdr: []string{"Authorization", "Bearer good"},
			status: 200, wantBody: "hello payload", wantUser: "alice"},
		{name: "denied GET", method: "GET", hdr: []string{"Authorization", "Bearer bad", "X-User", "spoofed"},
			status: 401, wantBody: "login required"},
		{name: "denied POST", method: "POST", body: "payload", status: 401, wantBody: "login required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checks, before := auth.hits.Load(), originHits.Load()
			status, h, body := send(t, front, tc.method, "/page?q=1", tc.body, tc.hdr...)
			if status != tc.status || body != tc.wantBody {
				t.Fatalf("got %d %q, want %d %q", status, body, tc.status, tc.wantBody)
			}
			if n := auth.hits.Load() - checks; n != 1 {
				t.Fatalf("the service got %d checks, want 1", n)
			}
			reached := originHits.Load() - before
			if tc.status != 200 {
				if reached != 0 {
					t.Errorf("a denied request reached the origin")
				}
				if got := h.Get("WWW-Authenticate"); got != `Bearer realm="test"` {
					t.Errorf("www-authenticate %q, want the service's", got)
				}
				if h.Get("X-User") != "" || h.Get("Cache-Control") != "no-store" {
					t.Errorf("denial headers %v", h)
				}
				return
			}
			if reached != 1 {
				t.Fatalf("origin reached %d times", reached)
			}
			if got := h.Values("X-Got-X-User"); len(got) != 1 || got[0] != tc.wantUser {
				t.Errorf("origin got x-user %q, want only %q from the service", got, tc.wantUser)
			}
			if got := h.Get("X-Got-X-Internal"); got != "" {
				t.Errorf("a header the filter does not allow reached the origin: %q", got)
			}
			c := auth.lastCheck()
			if c.Method != "GET" || c.URL.RequestURI() != "/check?v=1" || c.Host != "site.test" {
				t.Errorf("check %s %s host %s, want GET /check?v=1 for site.test", c.Method, c.URL.RequestURI(), c.Host)
			}
			want := map[string]string{"Authorization": "Bearer good", "X-Forwarded-Method": tc.method,
				"X-Forwarded-Uri": "/page?q=1", "X-Forwarded-Host": "site.test", "X-Forwarded-Proto": "http",
				"Cookie": "", "X-Secret": "", "X-User": ""}
			if tc.method == "GET" {
				want["Cookie"] = "sid=1"
			}
			for k, v := range want {
				if got := c.Header.Get(k); got != v {
					t.Errorf("check header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestHTTPCallServiceDown: the pool's only endpoint refuses connections
// or never answers. failure deny answers 503 with a body that names
// neither the service nor the cause; failure allow lets the request go on
// without x-user, even one the client sent.
func TestHTTPCallServiceDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()

	// hung accepts checks and answers none until the test ends: the
	// filter's timeout ends the call.
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })

	tests := []struct {
		name, endpoint, failure string
		timeoutMS               int
		status                  int
		body                    string
	}{
		{"refused, deny", down, "deny", 0, 503, "authorization service unavailable\n"},
		{"refused, allow", down, "allow", 0, 200, "hello "},
		{"timeout, deny", hung.Listener.Addr().String(), "deny", 50, 503, "authorization service unavailable\n"},
		{"timeout, allow", hung.Listener.Addr().String(), "allow", 50, 200, "hello "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			front, originHits, logs := callFront(t, []config.Upstream{{Name: "auth", Endpoints: []string{tc.endpoint}}},
				config.Route{Upstream: "origin", Filters: []config.Filter{extauth(tc.failure, tc.timeoutMS, "auth")}})
			status, h, body := send(t, front, "GET", "/x", "", "Authorization", "Bearer good", "X-User", "spoofed")
			if status != tc.status || body != tc.body {
				t.Fatalf("got %d %q, want %d %q", status, body, tc.status, tc.body)
			}
			if tc.status == 503 {
				if n := originHits.Load(); n != 0 {
					t.Errorf("origin reached %d times", n)
				}
				_, port, _ := net.SplitHostPort(tc.endpoint)
				for _, secret := range []string{port, "127.0.0.1", "Bearer", "dial", "refused", "timeout", "deadline"} {
					if strings.Contains(body, secret) {
						t.Errorf("the 503 names %q", secret)
					}
				}
			} else if got := h.Values("X-Got-X-User"); len(got) != 0 {
				t.Errorf("origin got x-user %q without a check", got)
			}
			if !strings.Contains(logs.String(), `extauth: check to upstream \"auth\" failed`) {
				t.Errorf("the failure was not logged:\n%s", logs)
			}
		})
	}
}

// TestHTTPCallNotAllowed: the filter's config names the pool "auth" but
// its http_upstreams does not list it. The host refuses the call with
// BAD_ARGUMENT, the service is never called, and the request gets the
// filter's failure behaviour.
func TestHTTPCallNotAllowed(t *testing.T) {
	auth := newAuthService(t)
	pools := []config.Upstream{{Name: "auth", Endpoints: []string{auth.srv.Listener.Addr().String()}}}
	tests := []struct {
		name, failure string
		calls         []string
		status        int
		body          string
	}{
		{"no allow-list, deny", "deny", nil, 503, "authorization service unavailable\n"},
		{"another pool allowed, deny", "deny", []string{"origin"}, 503, "authorization service unavailable\n"},
		{"no allow-list, allow", "allow", nil, 200, "hello "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			front, originHits, logs := callFront(t, pools,
				config.Route{Upstream: "origin", Filters: []config.Filter{extauth(tc.failure, 0, tc.calls...)}})
			status, h, body := send(t, front, "GET", "/x", "", "Authorization", "Bearer good", "X-User", "spoofed")
			if status != tc.status || body != tc.body {
				t.Fatalf("got %d %q, want %d %q", status, body, tc.status, tc.body)
			}
			if n := auth.hits.Load(); n != 0 {
				t.Fatalf("the service got %d checks through a refused call", n)
			}
			if n := originHits.Load(); tc.status == 503 && n != 0 {
				t.Errorf("origin reached %d times", n)
			}
			if got := h.Values("X-Got-X-User"); len(got) != 0 {
				t.Errorf("origin got x-user %q", got)
			}
			l := logs.String()
			for _, want := range []string{
				"runtime: proxy_http_call to an upstream the route does not allow",
				`extauth: check to upstream \"auth\" not sent`, "BAD_ARGUMENT",
			} {
				if !strings.Contains(l, want) {
					t.Errorf("logs lack %q:\n%s", want, l)
				}
			}
		})
	}
}
