package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/sdktest"
)

var h = sdktest.Headers

const baseConfig = `{"upstream":"auth","path":"/check","timeout_ms":500,
	"forward_headers":["Authorization","cookie"],"allowed_response_headers":["x-user","X-Roles"]`

// request is a client request as the host hands it over: pseudo-headers,
// a spoofed x-user, two cookie fields (as HTTP/2 sends them) and a header
// that is not forwarded.
var request = h(":authority", "site.test", ":path", "/account?tab=1", ":method", "POST", ":scheme", "https",
	"authorization", "Bearer good", "cookie", "a=1", "x-user", "spoofed", "x-secret", "s3", "cookie", "b=2")

// stripped is request without the headers only the service may set.
var stripped = h(":authority", "site.test", ":path", "/account?tab=1", ":method", "POST", ":scheme", "https",
	"authorization", "Bearer good", "cookie", "a=1", "x-secret", "s3", "cookie", "b=2")

type local struct {
	status  int
	body    string
	headers []sdk.Header
}

func TestExtAuth(t *testing.T) {
	unavailable := &local{503, "authorization service unavailable\n",
		h("content-type", "text/plain; charset=utf-8", "cache-control", "no-store")}
	tests := []struct {
		name    string
		config  string
		eos     bool
		answer  func(c *sdktest.HTTPCall)
		wantReq []sdk.Header // request headers once resumed
		want    *local       // nil: the request goes on
	}{
		{
			name:   "200 copies the allowed headers",
			config: baseConfig + `}`, eos: true,
			answer: func(c *sdktest.HTTPCall) {
				c.Respond(sdktest.HTTPCallResponse{StatusCode: 200,
					Headers: h("x-user", "alice", "x-roles", "admin", "x-roles", "ops", "x-other", "no", "content-length", "0"),
					Body:    []byte("ignored")})
			},
			wantReq: append(slices.Clone(stripped), h("x-user", "alice", "x-roles", "admin", "x-roles", "ops")...),
		},
		{
			name:   "204 without the allowed headers",
			config: baseConfig + `}`,
			answer: func(c *sdktest.HTTPCall) { c.Respond(sdktest.HTTPCallResponse{StatusCode: 204}) },
			// the client's x-user is gone all the same
			wantReq: stripped,
		},
		{
			name:   "401 passes status, body and challenge",
			config: baseConfig + `}`, eos: true,
			answer: func(c *sdktest.HTTPCall) {
				c.Respond(sdktest.HTTPCallResponse{StatusCode: 401, Body: []byte(`{"error":"login"}`),
					Headers: h("www-authenticate", `Bearer realm="x"`, "content-type", "application/json", "x-user", "alice", "set-cookie", "s=1")})
			},
			wantReq: stripped,
			want: &local{401, `{"error":"login"}`,
				h("cache-control", "no-store", "www-authenticate", `Bearer realm="x"`, "content-type", "application/json")},
		},
		{
			name:   "403",
			config: baseConfig + `}`, eos: true,
			answer: func(c *sdktest.HTTPCall) {
				c.Respond(sdktest.HTTPCallResponse{StatusCode: 403, Body: []byte("forbidden")})
			},
			wantReq: stripped,
			want:    &local{403, "forbidden", h("cache-control", "no-store")},
		},
		{
			name:   "302 becomes 403",
			config: baseConfig + `}`, eos: true,
			answer: func(c *sdktest.HTTPCall) {
				c.Respond(sdktest.HTTPCallResponse{StatusCode: 302, Headers: h("location", "/login"), Body: []byte("go")})
			},
			wantReq: stripped,
			want:    &local{403, "go", h("cache-control", "no-store")},
		},
		{
			name:   "500 becomes 403, also with failure allow",
			config: baseConfig + `,"failure":"allow"}`, eos: true,
			answer: func(c *sdktest.HTTPCall) {
				c.Respond(sdktest.HTTPCallResponse{StatusCode: 500, Body: []byte("oops")})
			},
			wantReq: stripped,
			want:    &local{403, "oops", h("cache-control", "no-store")},
		},
		{
			name:    "no answer, failure deny",
			config:  baseConfig + `,"failure":"deny"}`,
			eos:     true,
			answer:  func(c *sdktest.HTTPCall) { c.Fail() },
			wantReq: stripped,
			want:    unavailable,
		},
		{
			name:    "no answer, failure by default",
			config:  baseConfig + `}`,
			answer:  func(c *sdktest.HTTPCall) { c.Fail() },
			wantReq: stripped,
			want:    unavailable,
		},
		{
			name:    "no answer, failure allow",
			config:  baseConfig + `,"failure":"allow"}`,
			eos:     true,
			answer:  func(c *sdktest.HTTPCall) { c.Fail() },
			wantReq: stripped,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := sdktest.NewHost(t)
			p, err := host.NewPlugin(newPlugin, tt.config)
			if err != nil {
				t.Fatal(err)
			}
			s := p.NewStream()
			if a := s.SendRequestHeaders(request, tt.eos); a != sdk.Pause {
				t.Fatalf("request action %v, want Pause until the check is answered", a)
			}
			calls := host.HTTPCalls()
			if len(calls) != 1 {
				t.Fatalf("%d calls, want 1", len(calls))
			}
			tt.answer(calls[0])
			if got := s.RequestHeaders(); !slices.Equal(got, tt.wantReq) {
				t.Errorf("request headers\n got %v\nwant %v", got, tt.wantReq)
			}
			lr := s.LocalResponse()
			if tt.want == nil {
				if lr != nil || s.RequestContinued() != 1 {
					t.Fatalf("local response %+v, continued %d times; want the request resumed once", lr, s.RequestContinued())
				}
			} else {
				if lr == nil || s.RequestContinued() != 0 || s.LocalResponses() != 1 {
					t.Fatalf("local response %+v, continued %d times; want one local response", lr, s.RequestContinued())
				}
				if lr.StatusCode != tt.want.status || string(lr.Body) != tt.want.body || !slices.Equal(lr.Headers, tt.want.headers) {
					t.Errorf("local response %d %q %v\nwant %d %q %v", lr.StatusCode, lr.Body, lr.Headers,
						tt.want.status, tt.want.body, tt.want.headers)
				}
			}
			s.Finish()
			for _, e := range host.Logs() {
				if strings.Contains(e.Message, "s3") || strings.Contains(e.Message, "Bearer") {
					t.Errorf("a log line holds a request secret: %q", e.Message)
				}
			}
		})
	}
}

// TestCheckRequest pins what the service is sent.
func TestCheckRequest(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		request []sdk.Header
		want    []sdk.Header
		timeout time.Duration
	}{
		{
			name:   "configured",
			config: baseConfig + `}`, request: request, timeout: 500 * time.Millisecond,
			want: h(":method", "GET", ":path", "/check", ":authority", "site.test",
				"x-forwarded-method", "POST", "x-forwarded-proto", "https", "x-forwarded-host", "site.test", "x-forwarded-uri", "/account?tab=1",
				"authorization", "Bearer good", "cookie", "a=1", "cookie", "b=2"),
		},
		{
			name:   "defaults, absent headers, a client's x-forwarded-* not trusted",
			config: `{"upstream":"auth"}`, timeout: time.Second,
			request: h(":authority", "site.test", ":path", "/", ":method", "GET", ":scheme", "http",
				"x-forwarded-uri", "/admin", "authorization", "Bearer good"),
			want: h(":method", "GET", ":path", "/", ":authority", "site.test",
				"x-forwarded-method", "GET", "x-forwarded-proto", "http", "x-forwarded-host", "site.test", "x-forwarded-uri", "/"),
		},
		{
			name:   "no authority: the call names the upstream",
			config: `{"upstream":"auth","path":"/v1/check?full=1","forward_headers":["x-api-key"]}`, timeout: time.Second,
			request: h(":path", "/p", ":method", "DELETE", "X-Api-Key", "k"),
			want: h(":method", "GET", ":path", "/v1/check?full=1", ":authority", "auth",
				"x-forwarded-method", "DELETE", "x-forwarded-proto", "", "x-forwarded-host", "", "x-forwarded-uri", "/p",
				"x-api-key", "k"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := sdktest.NewHost(t)
			p, err := host.NewPlugin(newPlugin, tt.config)
			if err != nil {
				t.Fatal(err)
			}
			s := p.NewStream()
			s.SendRequestHeaders(tt.request, true)
			calls := host.HTTPCalls()
			if len(calls) != 1 {
				t.Fatalf("%d calls, want 1", len(calls))
			}
			c := calls[0]
			if c.Upstream != "auth" || c.Timeout != tt.timeout || len(c.Body) != 0 {
				t.Errorf("call to %q, timeout %v, body %q; want auth, %v, none", c.Upstream, c.Timeout, c.Body, tt.timeout)
			}
			if !slices.Equal(c.Headers, tt.want) {
				t.Errorf("check headers\n got %v\nwant %v", c.Headers, tt.want)
			}
		})
	}
}

// TestStreamGoneBeforeAnswer: a client that leaves while the check is out
// ends the stream; the late answer is dropped without touching it.
func TestStreamGoneBeforeAnswer(t *testing.T) {
	tests := []struct {
		name   string
		answer func(c *sdktest.HTTPCall)
	}{
		{"allowed", func(c *sdktest.HTTPCall) {
			c.Respond(sdktest.HTTPCallResponse{StatusCode: 200, Headers: h("x-user", "alice")})
		}},
		{"denied", func(c *sdktest.HTTPCall) { c.Respond(sdktest.HTTPCallResponse{StatusCode: 401}) }},
		{"failed", func(c *sdktest.HTTPCall) { c.Fail() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := sdktest.NewHost(t)
			p, err := host.NewPlugin(newPlugin, baseConfig+`}`)
			if err != nil {
				t.Fatal(err)
			}
			s := p.NewStream()
			s.SendRequestHeaders(request, true)
			c := host.HTTPCalls()[0]
			s.Finish()
			tt.answer(c)
			if s.LocalResponse() != nil || s.RequestContinued() != 0 {
				t.Errorf("a finished stream was answered %+v or resumed %d times", s.LocalResponse(), s.RequestContinued())
			}
			for _, e := range host.Logs() {
				if e.Level >= sdk.LevelError {
					t.Errorf("logged %v", e)
				}
			}
		})
	}
}

// TestStreamsIndependent: two requests with checks out at once each get
// their own answer.
func TestStreamsIndependent(t *testing.T) {
	host := sdktest.NewHost(t)
	p, err := host.NewPlugin(newPlugin, baseConfig+`}`)
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.NewStream(), p.NewStream()
	a.SendRequestHeaders(h(":path", "/a", "authorization", "A"), true)
	b.SendRequestHeaders(h(":path", "/b", "authorization", "B"), true)
	calls := host.HTTPCalls()
	if len(calls) != 2 {
		t.Fatalf("%d calls", len(calls))
	}
	// Answer in the other order.
	calls[1].Respond(sdktest.HTTPCallResponse{StatusCode: 403})
	calls[0].Respond(sdktest.HTTPCallResponse{StatusCode: 200, Headers: h("x-user", "a")})
	if a.RequestContinued() != 1 || a.LocalResponse() != nil {
		t.Errorf("a: continued %d, local %+v", a.RequestContinued(), a.LocalResponse())
	}
	if v := a.RequestHeaders(); !slices.Equal(v, h(":path", "/a", "authorization", "A", "x-user", "a")) {
		t.Errorf("a: headers %v", v)
	}
	if b.RequestContinued() != 0 || b.LocalResponse() == nil || b.LocalResponse().StatusCode != 403 {
		t.Errorf("b: continued %d, local %+v", b.RequestContinued(), b.LocalResponse())
	}
}

func TestBadConfigRefused(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   []string // every one must be in the error
	}{
		{"empty", ``, []string{"upstream: required"}},
		{"empty object", `{}`, []string{"upstream: required"}},
		{"empty upstream", `{"upstream":""}`, []string{"upstream: required"}},
		{"unknown field", `{"upstream":"auth","timeout":5}`, []string{`unknown field "timeout"`}},
		{"wrong type", `{"upstream":"auth","forward_headers":"cookie"}`, []string{"cannot unmarshal"}},
		{"fractional timeout", `{"upstream":"auth","timeout_ms":1.5}`, []string{"cannot unmarshal"}},
		{"trailing data", `{"upstream":"auth"} {}`, []string{"trailing data"}},
		{"relative path", `{"upstream":"auth","path":"check"}`, []string{`path: "check": want an absolute path`}},
		{"authority-like path", `{"upstream":"auth","path":"//evil/check"}`, []string{`path: "//evil/check"`}},
		{"space in path", `{"upstream":"auth","path":"/a b"}`, []string{`path: "/a b": byte ' '`}},
		{"CRLF in path", `{"upstream":"auth","path":"/a\r\nx: y"}`, []string{"path:", `byte '\r'`}},
		{"fragment in path", `{"upstream":"auth","path":"/a#b"}`, []string{`byte '#'`}},
		{"negative timeout", `{"upstream":"auth","timeout_ms":-1}`, []string{"timeout_ms: -1: want 1 to 60000"}},
		{"huge timeout", `{"upstream":"auth","timeout_ms":60001}`, []string{"timeout_ms: 60001"}},
		{"unknown failure", `{"upstream":"auth","failure":"open"}`, []string{`failure: "open": want "deny" or "allow"`}},
		{"pseudo forward", `{"upstream":"auth","forward_headers":[":path"]}`, []string{`forward_headers[0]: ":path": pseudo-headers`}},
		{"bad name", `{"upstream":"auth","forward_headers":["ok","x y"]}`, []string{`forward_headers[1]: "x y": invalid header name`}},
		{"empty name", `{"upstream":"auth","allowed_response_headers":[""]}`, []string{`allowed_response_headers[0]: "": empty header name`}},
		{"framing forward", `{"upstream":"auth","forward_headers":["Content-Length"]}`, []string{`forward_headers[0]: "Content-Length": header content-length frames`}},
		{"host forward", `{"upstream":"auth","forward_headers":["host"]}`, []string{"header host"}},
		{"filter's own header", `{"upstream":"auth","forward_headers":["X-Forwarded-Uri"]}`, []string{"x-forwarded-uri is set by the filter"}},
		{"framing allowed", `{"upstream":"auth","allowed_response_headers":["transfer-encoding"]}`, []string{`allowed_response_headers[0]: "transfer-encoding"`}},
		{"duplicate by case", `{"upstream":"auth","allowed_response_headers":["X-User","x-user"]}`, []string{`allowed_response_headers[1]: "x-user": same header as allowed_response_headers[0]`}},
		{"every error reported", `{"path":"x","failure":"maybe","forward_headers":[":a"],"allowed_response_headers":["te"]}`,
			[]string{"upstream: required", `path: "x"`, `failure: "maybe"`, "forward_headers[0]", "allowed_response_headers[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := sdktest.NewHost(t)
			_, err := host.NewPlugin(newPlugin, tt.config)
			if err == nil {
				t.Fatal("config accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			if !host.Logged(sdk.LevelError, tt.want[0]) {
				t.Errorf("the reason was not logged at error level: %v", host.Logs())
			}
		})
	}
}

// TestStatelessFilter pins that streams share the plugin as their filter.
func TestStatelessFilter(t *testing.T) {
	p, err := newPlugin(sdk.PluginConfig{Data: []byte(`{"upstream":"auth"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if p.NewFilter() != p.NewFilter() {
		t.Error("NewFilter returns a new filter per stream")
	}
}
