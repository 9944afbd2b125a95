package client

// These tests check the client's own HTTP handling (what it sends, how it
// reads statuses, headers and error bodies) against loopback servers that
// answer fixed bytes. They do not stand in for the admin API: the
// end-to-end tests in cmd/wedge drive a real node.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// seen is one request a test server received.
type seen struct {
	method, path, rawPath string
	header                http.Header
	body                  []byte
}

// answer starts a server that records each request and answers status,
// headers and body.
func answer(t *testing.T, status int, header map[string]string, body string) (*Client, *[]seen) {
	t.Helper()
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.Path, r.URL.RawPath, r.Header.Clone(), b})
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "secret")
	if err != nil {
		t.Fatal(err)
	}
	return c, &got
}

func TestClientErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   APIError
		text   string
	}{
		{
			name:   "validation",
			status: 400,
			body:   `{"error":"control: routes: 2 problem(s)","problems":["routes[0].upstream: pool \"api\" is not defined (line 3)","routes[1].match.path_regex: bad regex"]}`,
			want: APIError{Status: 400, Message: "control: routes: 2 problem(s)", Problems: []string{
				`routes[0].upstream: pool "api" is not defined (line 3)`, "routes[1].match.path_regex: bad regex"}},
			text: "client: 400 Bad Request: control: routes: 2 problem(s)\n  routes[0].upstream: pool \"api\" is not defined (line 3)\n  routes[1].match.path_regex: bad regex",
		},
		{
			name:   "stale If-Match",
			status: 409,
			body:   `{"error":"control: tenant \"acme\" changed since revision 4 (now 7): read it again and retry","revision":7}`,
			want:   APIError{Status: 409, Message: `control: tenant "acme" changed since revision 4 (now 7): read it again and retry`, Revision: 7},
			text:   `client: 409 Conflict: control: tenant "acme" changed since revision 4 (now 7): read it again and retry`,
		},
		{
			name:   "unauthorized",
			status: 401,
			body:   `{"error":"control: missing bearer token"}` + "\n",
			want:   APIError{Status: 401, Message: "control: missing bearer token"},
			text:   "client: 401 Unauthorized: control: missing bearer token",
		},
		{
			name:   "not the API's JSON",
			status: 502,
			body:   "<html>\n<body>Bad Gateway</body>\n</html>",
			want:   APIError{Status: 502, Message: "<html> …"},
			text:   "client: 502 Bad Gateway: <html> …",
		},
		{
			name:   "empty body",
			status: 503,
			want:   APIError{Status: 503},
			text:   "client: 503 Service Unavailable",
		},
		{
			name:   "JSON without an error field",
			status: 404,
			body:   `{"message":"nope"}`,
			want:   APIError{Status: 404, Message: `{"message":"nope"}`},
			text:   `client: 404 Not Found: {"message":"nope"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := answer(t, tc.status, map[string]string{"Content-Type": "application/json"}, tc.body)
			_, err := c.Tenants(context.Background())
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T), want an *APIError", err, err)
			}
			if !reflect.DeepEqual(*ae, tc.want) {
				t.Errorf("got %+v\nwant %+v", *ae, tc.want)
			}
			if got := err.Error(); got != tc.text {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tc.text)
			}
			if !IsStatus(err, tc.status) {
				t.Errorf("IsStatus(err, %d) = false", tc.status)
			}
		})
	}
}

func TestClientSendsTokenIfMatchAndBodies(t *testing.T) {
	ctx := context.Background()
	c, got := answer(t, 200, map[string]string{"ETag": `"12"`, "X-Wedge-Revision": "12"}, `{"name":"web","endpoints":["127.0.0.1:8080"],"revision":12}`)

	var r Response
	u, err := c.PutUpstream(ctx, "acme", Upstream{Name: "web", Endpoints: []string{"127.0.0.1:8080"}, MaxIdleConns: 8, Revision: 99}, IfMatch(11), Capture(&r))
	if err != nil {
		t.Fatal(err)
	}
	if u.Revision != 12 || u.Name != "web" {
		t.Errorf("decoded %+v", u)
	}
	if r != (Response{Status: 200, ETag: 12, Revision: 12}) || r.Created() {
		t.Errorf("captured %+v", r)
	}
	req := (*got)[0]
	if req.method != "PUT" || req.path != "/v1/tenants/acme/upstreams/web" {
		t.Errorf("sent %s %s", req.method, req.path)
	}
	if h := req.header.Get("If-Match"); h != `"11"` {
		t.Errorf("If-Match %q, want \"11\"", h)
	}
	if h := req.header.Get("Authorization"); h != "Bearer secret" {
		t.Errorf("Authorization %q", h)
	}
	if h := req.header.Get("Content-Type"); h != "application/json" {
		t.Errorf("Content-Type %q", h)
	}
	// The revision is the server's: not sent, nor the name (it is in the path).
	if string(req.body) != `{"endpoints":["127.0.0.1:8080"],"max_idle_conns":8}` {
		t.Errorf("body %s", req.body)
	}

	// Without IfMatch, no If-Match header.
	if err := c.DeleteUpstream(ctx, "acme", "web"); err != nil {
		t.Fatal(err)
	}
	if h, ok := (*got)[1].header["If-Match"]; ok {
		t.Errorf("If-Match sent without IfMatch: %q", h)
	}
}

func TestClientPutRoutesPassesTheBodyThrough(t *testing.T) {
	c, got := answer(t, 200, map[string]string{"X-Wedge-Revision": "30"}, `{"routes":[{"match":{"path_prefix":"/"},"upstream":"web","timeouts":{"connect":"1s"}}],"revision":30}`)
	yaml := "# the routes\nroutes:\n  - match: {path_prefix: /}   # all\n    upstream: web\n"
	var r Response
	rt, err := c.PutRoutes(context.Background(), "acme", []byte(yaml), "application/yaml", Capture(&r))
	if err != nil {
		t.Fatal(err)
	}
	req := (*got)[0]
	if string(req.body) != yaml || req.header.Get("Content-Type") != "application/yaml" {
		t.Errorf("sent %q as %q; want the bytes as given", req.body, req.header.Get("Content-Type"))
	}
	want := RouteTable{Routes: []Route{{Match: Match{PathPrefix: "/"}, Upstream: "web", Timeouts: Timeouts{Connect: Duration(time.Second)}}}, Revision: 30}
	if !reflect.DeepEqual(*rt, want) {
		t.Errorf("decoded %+v", *rt)
	}
	if r.Revision != 30 {
		t.Errorf("X-Wedge-Revision %d, want 30", r.Revision)
	}
}

func TestClientPushFilter(t *testing.T) {
	c, got := answer(t, 201, map[string]string{"X-Wedge-Revision": "5"}, `{"name":"auth","version":2,"sha256":"ab","size":4,"versions":[],"revision":5}`)
	var r Response
	f, err := c.PushFilter(context.Background(), "acme", "auth", []byte("\x00asm"), Capture(&r))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Created() || f.Version != 2 {
		t.Errorf("response %+v, filter %+v", r, f)
	}
	req := (*got)[0]
	if req.header.Get("Content-Type") != "application/wasm" || string(req.body) != "\x00asm" {
		t.Errorf("sent %q as %q", req.body, req.header.Get("Content-Type"))
	}
}

func TestClientEscapesPathSegments(t *testing.T) {
	c, got := answer(t, 204, nil, "")
	if err := c.RemoveDomain(context.Background(), "acme", "*.shop example/x"); err != nil {
		t.Fatal(err)
	}
	req := (*got)[0]
	if req.path != "/v1/tenants/acme/domains/*.shop example/x" || !strings.HasSuffix(req.rawPath, "%20example%2Fx") {
		t.Errorf("path %q raw %q: the domain must stay one segment", req.path, req.rawPath)
	}
}

func TestClientRequestBodies(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func(c *Client) error
		want string // method path body
	}{
		{"put tenant", func(c *Client) error {
			_, err := c.PutTenant(ctx, "acme", Limits{RequestRate: 100, FilterCallDeadline: Duration(100 * time.Millisecond)})
			return err
		}, `PUT /v1/tenants/acme {"limits":{"filter_call_deadline":"100ms","request_rate":100}}`},
		{"put tenant without limits", func(c *Client) error { _, err := c.PutTenant(ctx, "acme", Limits{}); return err },
			`PUT /v1/tenants/acme {"limits":{}}`},
		{"token", func(c *Client) error { _, err := c.CreateToken(ctx, "acme", "ci"); return err },
			`POST /v1/tenants/acme/tokens {"description":"ci"}`},
		{"rollback to the previous version", func(c *Client) error { _, err := c.RollbackFilter(ctx, "acme", "auth", 0); return err },
			`POST /v1/tenants/acme/filters/auth/rollback {}`},
		{"rollback to a version", func(c *Client) error { _, err := c.RollbackFilter(ctx, "acme", "auth", 3); return err },
			`POST /v1/tenants/acme/filters/auth/rollback {"version":3}`},
		{"purge", func(c *Client) error { _, err := c.Purge(ctx, "acme", Purge{Tag: "p-42"}); return err },
			`POST /v1/tenants/acme/purge {"tag":"p-42"}`},
		{"config", func(c *Client) error {
			_, err := c.PutTenantConfig(ctx, "acme", TenantConfig{
				Upstreams: []Upstream{{Name: "web", Endpoints: []string{"a:1"}, Revision: 3}},
				Routes: []Route{{Upstream: "web", Filters: []RouteFilter{{Name: "stamp", Module: "stamp", Config: json.RawMessage(`{"response":{"set":{"X-Hello":"world"}}}`)}}},
					{Respond: &Respond{}}},
			})
			return err
		}, `PUT /v1/tenants/acme/config {"upstreams":[{"name":"web","endpoints":["a:1"]}],"routes":[{"upstream":"web","filters":[{"name":"stamp","module":"stamp","config":{"response":{"set":{"X-Hello":"world"}}}}]},{"respond":{}}]}`},
		{"empty config", func(c *Client) error { _, err := c.PutTenantConfig(ctx, "acme", TenantConfig{}); return err },
			`PUT /v1/tenants/acme/config {"upstreams":[],"routes":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, got := answer(t, 200, nil, "{}")
			if err := tc.call(c); err != nil {
				t.Fatal(err)
			}
			req := (*got)[0]
			if s := req.method + " " + req.path + " " + string(req.body); s != tc.want {
				t.Errorf("sent\n%s\nwant\n%s", s, tc.want)
			}
		})
	}
}

func TestClientRefusesBadArguments(t *testing.T) {
	c, got := answer(t, 200, nil, "{}")
	ctx := context.Background()
	for name, err := range map[string]error{
		"purge of nothing": func() error { _, err := c.Purge(ctx, "acme", Purge{}); return err }(),
		"purge of two":     func() error { _, err := c.Purge(ctx, "acme", Purge{URL: "http://a/", Host: "a"}); return err }(),
		"unnamed upstream": func() error { _, err := c.PutUpstream(ctx, "acme", Upstream{}); return err }(),
		"no content type":  func() error { _, err := c.PutRoutes(ctx, "acme", []byte("routes: []"), ""); return err }(),
		"negative version": func() error { _, err := c.RollbackFilter(ctx, "acme", "f", -1); return err }(),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "client: ") {
			t.Errorf("%s: error %v, want one prefixed \"client: \"", name, err)
		}
	}
	if len(*got) != 0 {
		t.Errorf("%d requests sent for bad arguments", len(*got))
	}
}

func TestClientReady(t *testing.T) {
	c, _ := answer(t, 503, nil, `{"ready":false,"error":"store unavailable"}`)
	r, err := c.Ready(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Ready || r.Error != "store unavailable" {
		t.Errorf("%+v", r)
	}
	c, _ = answer(t, 503, nil, "overloaded")
	if _, err := c.Ready(context.Background()); !IsStatus(err, 503) {
		t.Errorf("a 503 that is not a readiness answer: %v, want an *APIError", err)
	}
}

func TestClientNoTokenNoAuthorization(t *testing.T) {
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Values("Authorization")
		io.WriteString(w, `{"node":"pop-1","revision":3,"store":"embedded","store_ok":true}`)
	}))
	defer srv.Close()
	c, err := New(strings.TrimPrefix(srv.URL, "http://"), "") // a bare host:port is http
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Node != "pop-1" || s.Revision != 3 || len(auth) != 0 {
		t.Errorf("status %+v, Authorization %q", s, auth)
	}
}

func TestClientNew(t *testing.T) {
	for _, tc := range []struct{ in, base, err string }{
		{in: "http://127.0.0.1:9901", base: "http://127.0.0.1:9901"},
		{in: "127.0.0.1:9901", base: "http://127.0.0.1:9901"},
		{in: "https://admin.example/wedge/", base: "https://admin.example/wedge"},
		{in: "ftp://x", err: "want http(s)://host:port"},
		{in: "http://", err: "want http(s)://host:port"},
		{in: "http://a/?x=1", err: "no query"},
		{in: "http://a b", err: "client: admin URL"},
	} {
		c, err := New(tc.in, "")
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("New(%q): error %v, want one containing %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("New(%q): %v", tc.in, err)
		case c.BaseURL() != tc.base:
			t.Errorf("New(%q).BaseURL() = %q, want %q", tc.in, c.BaseURL(), tc.base)
		}
	}
}

func TestClientBasePath(t *testing.T) {
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		io.WriteString(w, `{"tenants":[]}`)
	}))
	defer srv.Close()
	c, err := New(srv.URL+"/admin/", "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tenants(context.Background()); err != nil {
		t.Fatal(err)
	}
	if path != "/admin/v1/tenants" {
		t.Errorf("path %q, want /admin/v1/tenants", path)
	}
}

func TestClientTLSConfig(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"node":"tls","revision":1,"store":"embedded","store_ok":true}`)
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	// Without the CA the server's certificate is refused.
	c, err := New(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(context.Background()); err == nil {
		t.Fatal("an unknown CA was accepted")
	}

	// With it, through the caller's HTTP client, which is left as it was.
	mine := &http.Client{Timeout: 5 * time.Second}
	c, err = New(srv.URL, "", WithHTTPClient(mine), WithTLSConfig(&tls.Config{RootCAs: pool}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Node != "tls" {
		t.Errorf("status %+v", s)
	}
	if mine.Transport != nil {
		t.Error("WithTLSConfig changed the caller's HTTP client")
	}

	type rt struct{ http.RoundTripper }
	if _, err := New(srv.URL, "", WithHTTPClient(&http.Client{Transport: rt{}}), WithTLSConfig(&tls.Config{})); err == nil {
		t.Error("WithTLSConfig accepted a transport it cannot configure")
	}
}

func TestClientDecodeFailure(t *testing.T) {
	c, _ := answer(t, 200, nil, "not json")
	_, err := c.Tenants(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "client: GET /v1/tenants: decoding the answer") {
		t.Errorf("error %v", err)
	}
}

func TestDurationJSON(t *testing.T) {
	var l Limits
	if err := json.Unmarshal([]byte(`{"filter_call_deadline":"1m30s"}`), &l); err != nil {
		t.Fatal(err)
	}
	if l.FilterCallDeadline != Duration(90*time.Second) {
		t.Errorf("decoded %v", l.FilterCallDeadline)
	}
	if err := json.Unmarshal([]byte(`{"filter_call_deadline":"soon"}`), &l); err == nil || !strings.Contains(err.Error(), `"soon" is not a duration`) {
		t.Errorf("error %v", err)
	}
	if err := json.Unmarshal([]byte(`{"filter_call_deadline":100}`), &l); err == nil {
		t.Error("a bare number was taken as a duration")
	}
}
