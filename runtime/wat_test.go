package runtime

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// Interop: the hand-written modules of testdata/wat (written from the
// Proxy-Wasm 0.2.1 spec alone, no SDK) behave in Wedge as their README
// says.

// getRequest is a request's headers as the edge hands them to a filter.
func getRequest(path string) *testHost {
	return newTestHost([2]string{":method", "GET"}, [2]string{":path", path}, [2]string{":authority", "site.test"})
}

// TestWATAddHeader: add_header.wat (ABI 0.2.1) and abi_020.wat (the same
// filter exporting only the 0.2.0 marker) add a request header, add a
// response header, and read the request's :path from
// proxy_on_response_headers.
func TestWATAddHeader(t *testing.T) {
	tests := []struct {
		module, abi string
	}{
		{"add_header", "proxy_abi_version_0_2_1"},
		{"abi_020", "proxy_abi_version_0_2_0"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.module, func(t *testing.T) {
			e := newTestEngine(t)
			m, err := e.Compile(ctx, readBuilt(t, "wat", tt.module))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(ctx)
			if m.ABI() != tt.abi {
				t.Errorf("ABI() = %q, want %q", m.ABI(), tt.abi)
			}
			p := startPlugin(t, e, "wat", tt.module, PluginConfig{Limits: Limits{Instances: 1}})
			for _, path := range []string{"/a", "/b/c?d=e"} { // twice on one instance
				h := getRequest(path)
				s, err := p.NewStream(ctx, h)
				if err != nil {
					t.Fatal(err)
				}
				if r, err := s.RequestHeaders(ctx, true); err != nil || r != Continue {
					t.Fatalf("RequestHeaders = %v, %v; want Continue", r, err)
				}
				if got := header(h.req, "x-wat"); got != "1" {
					t.Errorf("request x-wat = %q, want 1 (headers %v)", got, *h.req)
				}
				h.setResponse([2]string{":status", "200"})
				if r, err := s.ResponseHeaders(ctx, true); err != nil || r != Continue {
					t.Fatalf("ResponseHeaders = %v, %v; want Continue", r, err)
				}
				s.Close()
				if got := header(h.resp, "x-wat-response"); got != "1" {
					t.Errorf("response x-wat-response = %q, want 1", got)
				}
				if got := header(h.resp, "x-wat-path"); got != path {
					t.Errorf("response x-wat-path = %q, want %q (x-wat-path-error %q)",
						got, path, header(h.resp, "x-wat-path-error"))
				}
				if header(h.req, "x-wat-response") != "" || header(h.resp, "x-wat") != "" {
					t.Errorf("a header went to the wrong map: request %v, response %v", *h.req, *h.resp)
				}
			}
			if p.Crashes() != 0 {
				t.Errorf("Crashes() = %d", p.Crashes())
			}
		})
	}
}

// TestWATLocalResponse: local_response.wat answers 403 itself from
// proxy_on_request_headers.
func TestWATLocalResponse(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	p := startPlugin(t, e, "wat", "local_response", PluginConfig{Limits: Limits{Instances: 1}})
	h := getRequest("/secret")
	before := slices.Clone(*h.req)
	s, err := p.NewStream(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.RequestHeaders(ctx, true)
	if err != nil || r != Respond {
		t.Fatalf("RequestHeaders = %v, %v; want Respond", r, err)
	}
	lr := s.LocalResponse()
	if lr == nil {
		t.Fatal("LocalResponse() = nil after Respond")
	}
	if lr.Status != 403 {
		t.Errorf("Status = %d, want 403", lr.Status)
	}
	if lr.Details != "denied_by_wat" {
		t.Errorf("Details = %q, want denied_by_wat", lr.Details)
	}
	if string(lr.Body) != "denied by wat" {
		t.Errorf("Body = %q, want %q", lr.Body, "denied by wat")
	}
	if want := (Pairs{{"x-denied", "yes"}}); !slices.Equal(lr.Headers, want) {
		t.Errorf("Headers = %v, want %v", lr.Headers, want)
	}
	if !slices.Equal(*h.req, before) {
		t.Errorf("request headers changed: %v, was %v", *h.req, before)
	}
}

// TestWATConfigEcho: config_echo.wat starts only with the configuration
// "ok"; any other is refused at NewPlugin by proxy_on_configure.
func TestWATConfigEcho(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	m, err := e.Compile(ctx, readBuilt(t, "wat", "config_echo"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	tests := []struct {
		config string
		ok     bool
	}{
		{"ok", true},
		{"", false},
		{"no", false},
		{"okay", false},
		{"OK", false},
	}
	for _, tt := range tests {
		t.Run("config="+tt.config, func(t *testing.T) {
			p, err := e.NewPlugin(ctx, m, PluginConfig{Name: "echo", Config: []byte(tt.config), Limits: Limits{Instances: 1}})
			if !tt.ok {
				if err == nil {
					p.Close(ctx)
					t.Fatal("NewPlugin accepted a configuration the filter refuses")
				}
				var fe *FilterError
				if !errors.As(err, &fe) {
					t.Fatalf("error %T %v, want a *FilterError", err, err)
				}
				if fe.Kind != Refused || KindOf(err) != Refused {
					t.Errorf("Kind = %v, want %v", fe.Kind, Refused)
				}
				if fe.Callback != "proxy_on_configure" || !strings.Contains(err.Error(), "proxy_on_configure") {
					t.Errorf("error %q (callback %q) does not name proxy_on_configure", err, fe.Callback)
				}
				if fe.Plugin != "echo" || !strings.Contains(err.Error(), `"echo"`) {
					t.Errorf("error %q does not name the filter", err)
				}
				if n := liveInstances(m); n != 0 {
					t.Errorf("%d instances of the module still live after the refusal", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(ctx)
			h := getRequest("/")
			s, err := p.NewStream(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if r, err := s.RequestHeaders(ctx, true); err != nil || r != Continue {
				t.Fatalf("RequestHeaders = %v, %v", r, err)
			}
			if got := header(h.req, "x-config"); got != tt.config {
				t.Errorf("x-config = %q, want %q", got, tt.config)
			}
		})
	}
}

// liveInstances is how many instances of m are not closed yet.
func liveInstances(m *Module) int {
	m.eng.mu.Lock()
	defer m.eng.mu.Unlock()
	return m.live
}

// TestWATBodyUpper: body_upper.wat pauses on every request body chunk
// until the end of the stream, then uppercases the whole buffered body.
func TestWATBodyUpper(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string // the last one is sent with endOfStream
		want   string
	}{
		{"one chunk", []string{"hello, wasm!"}, "HELLO, WASM!"},
		{"three chunks", []string{"hel", "lo, w", "asm!"}, "HELLO, WASM!"},
		{"byte by byte", strings.Split("hello, wasm!", ""), "HELLO, WASM!"},
		{"empty end", []string{"hello, ", "wasm!", ""}, "HELLO, WASM!"},
		{"not ascii letters", []string{"àb{z}", "0-9 éZ"}, "àB{Z}0-9 éZ"},
		{"empty body", []string{""}, ""},
	}
	ctx := context.Background()
	e := newTestEngine(t)
	p := startPlugin(t, e, "wat", "body_upper", PluginConfig{Limits: Limits{Instances: 1}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := getRequest("/upload")
			s, err := p.NewStream(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if r, err := s.RequestHeaders(ctx, false); err != nil || r != Continue {
				t.Fatalf("RequestHeaders = %v, %v", r, err)
			}
			for i, c := range tt.chunks {
				eos := i == len(tt.chunks)-1
				out, r, err := s.RequestBody(ctx, []byte(c), eos)
				if err != nil {
					t.Fatalf("chunk %d: %v", i, err)
				}
				if !eos {
					if r != Paused || len(out) != 0 {
						t.Fatalf("chunk %d: RequestBody = %q, %v; want nothing, Paused", i, out, r)
					}
					continue
				}
				if r != Continue || string(out) != tt.want {
					t.Fatalf("last chunk: RequestBody = %q, %v; want %q, Continue", out, r, tt.want)
				}
			}
			// The response body is left alone, chunk by chunk.
			h.setResponse([2]string{":status", "200"})
			if r, err := s.ResponseHeaders(ctx, false); err != nil || r != Continue {
				t.Fatalf("ResponseHeaders = %v, %v", r, err)
			}
			out, r, err := s.ResponseBody(ctx, []byte("lower"), false)
			if err != nil || r != Continue || string(out) != "lower" {
				t.Fatalf("ResponseBody = %q, %v, %v; want %q, Continue", out, r, err, "lower")
			}
		})
	}
}

// TestWATWildImports: wild_imports.wat imports env functions Wedge does
// not implement; they link to stubs answering UNIMPLEMENTED (12).
func TestWATWildImports(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	p := startPlugin(t, e, "wat", "wild_imports", PluginConfig{Limits: Limits{Instances: 1}})
	h := getRequest("/")
	s, err := p.NewStream(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r, err := s.RequestHeaders(ctx, true); err != nil || r != Continue {
		t.Fatalf("RequestHeaders = %v, %v", r, err)
	}
	for _, k := range []string{"x-status", "x-status-i64", "x-status-grpc"} {
		if got := header(h.req, k); got != "12" {
			t.Errorf("%s = %q, want 12 (UNIMPLEMENTED)", k, got)
		}
	}
}
