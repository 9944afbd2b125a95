package sdk_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/sdktest"
)

func TestHeaderMapOperations(t *testing.T) {
	in := sdktest.Headers(":path", "/", "x-a", "1", "x-b", "2", "x-b", "3")
	ops := []struct {
		name string
		op   func(h sdk.HeaderMap) error
		want []sdk.Header
	}{
		{"set new", func(h sdk.HeaderMap) error { return h.Set("x-new", "v") },
			sdktest.Headers(":path", "/", "x-a", "1", "x-b", "2", "x-b", "3", "x-new", "v")},
		{"set replaces every value", func(h sdk.HeaderMap) error { return h.Set("x-b", "9") },
			sdktest.Headers(":path", "/", "x-a", "1", "x-b", "9")},
		{"add keeps values", func(h sdk.HeaderMap) error { return h.Add("x-a", "2") },
			sdktest.Headers(":path", "/", "x-a", "1", "x-b", "2", "x-b", "3", "x-a", "2")},
		{"remove every value", func(h sdk.HeaderMap) error { return h.Remove("x-b") },
			sdktest.Headers(":path", "/", "x-a", "1")},
		{"remove absent", func(h sdk.HeaderMap) error { return h.Remove("x-none") }, in},
		{"set all", func(h sdk.HeaderMap) error { return h.SetAll(sdktest.Headers(":path", "/new", "x-z", "")) },
			sdktest.Headers(":path", "/new", "x-z", "")},
		{"set all empty", func(h sdk.HeaderMap) error { return h.SetAll(nil) }, nil},
	}
	maps := []struct {
		ev   string
		get  func(s *sdk.Stream) sdk.HeaderMap
		send func(s *sdktest.Stream, h []sdk.Header)
		read func(s *sdktest.Stream) []sdk.Header
	}{
		{evReqHeaders, (*sdk.Stream).RequestHeaders,
			func(s *sdktest.Stream, h []sdk.Header) { s.SendRequestHeaders(h, false) },
			(*sdktest.Stream).RequestHeaders},
		{evReqTrailers, (*sdk.Stream).RequestTrailers,
			func(s *sdktest.Stream, h []sdk.Header) { s.SendRequestTrailers(h) },
			(*sdktest.Stream).RequestTrailers},
		{evRespHeaders, (*sdk.Stream).ResponseHeaders,
			func(s *sdktest.Stream, h []sdk.Header) { s.SendResponseHeaders(h, false) },
			(*sdktest.Stream).ResponseHeaders},
		{evRespTrailers, (*sdk.Stream).ResponseTrailers,
			func(s *sdktest.Stream, h []sdk.Header) { s.SendResponseTrailers(h) },
			(*sdktest.Stream).ResponseTrailers},
	}
	for _, m := range maps {
		for _, tt := range ops {
			t.Run(m.ev+"/"+tt.name, func(t *testing.T) {
				var before []sdk.Header
				var opErr, allErr error
				called := false
				_, _, s := start(t, func(ev string, s *sdk.Stream, _ int, _ bool) sdk.Action {
					if ev == m.ev {
						called = true
						before, allErr = m.get(s).All()
						opErr = tt.op(m.get(s))
					}
					return sdk.Continue
				})
				m.send(s, in)
				if !called {
					t.Fatalf("the %s callback did not run", m.ev)
				}
				must(t, allErr)
				must(t, opErr)
				if !slices.Equal(before, in) {
					t.Errorf("All() = %v, want %v", before, in)
				}
				if got := m.read(s); !slices.Equal(got, tt.want) {
					t.Errorf("after %s: %v, want %v", tt.name, got, tt.want)
				}
			})
		}
	}
}

func TestHeaderGet(t *testing.T) {
	tests := []struct {
		name   string
		header string
		value  string
		ok     bool
	}{
		{"present", "x-a", "1", true},
		{"first of several", "x-b", "2", true},
		{"empty value", "x-empty", "", true},
		{"pseudo-header", ":method", "GET", true},
		{"absent", "x-none", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v string
			var ok bool
			_, _, s := start(t, func(ev string, s *sdk.Stream, _ int, _ bool) sdk.Action {
				if ev == evReqHeaders {
					v, ok = s.RequestHeaders().Get(tt.header)
				}
				return sdk.Continue
			})
			s.SendRequestHeaders(sdktest.Headers(":method", "GET", "x-a", "1", "x-b", "2", "x-b", "3", "x-empty", ""), true)
			if v != tt.value || ok != tt.ok {
				t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.header, v, ok, tt.value, tt.ok)
			}
		})
	}
}

func TestActionsPassThrough(t *testing.T) {
	for _, want := range []sdk.Action{sdk.Continue, sdk.Pause} {
		for _, ev := range []string{evReqHeaders, evReqBody, evReqTrailers, evRespHeaders, evRespBody, evRespTrailers} {
			t.Run(ev, func(t *testing.T) {
				var seen []string
				_, _, s := start(t, func(got string, _ *sdk.Stream, _ int, _ bool) sdk.Action {
					seen = append(seen, got)
					if got == ev {
						return want
					}
					return sdk.Continue
				})
				acts := map[string]sdk.Action{
					evReqHeaders:   s.SendRequestHeaders(nil, false),
					evReqBody:      s.SendRequestBody([]byte("b"), false),
					evReqTrailers:  s.SendRequestTrailers(nil),
					evRespHeaders:  s.SendResponseHeaders(nil, false),
					evRespBody:     s.SendResponseBody([]byte("b"), false),
					evRespTrailers: s.SendResponseTrailers(nil),
				}
				for e, a := range acts {
					if e == ev && a != want || e != ev && a != sdk.Continue {
						t.Errorf("%s: action %v", e, a)
					}
				}
				if len(seen) != 6 {
					t.Errorf("callbacks run: %v", seen)
				}
			})
		}
	}
}

func TestOnDoneOnceWithHeadersReadable(t *testing.T) {
	var got []string
	_, _, s := start(t, func(ev string, s *sdk.Stream, _ int, _ bool) sdk.Action {
		if ev == evDone {
			p, _ := s.RequestHeaders().Get(":path")
			st, _ := s.ResponseHeaders().Get(":status")
			got = append(got, p+" "+st)
		}
		return sdk.Continue
	})
	s.SendRequestHeaders(sdktest.Headers(":path", "/x"), true)
	s.SendResponseHeaders(sdktest.Headers(":status", "204"), true)
	s.Finish()
	s.Finish()
	if !slices.Equal(got, []string{"/x 204"}) {
		t.Errorf("OnDone saw %q, want one call seeing \"/x 204\"", got)
	}
}

func TestStreamUnusableAfterDelete(t *testing.T) {
	var kept *sdk.Stream
	_, _, s := start(t, func(ev string, s *sdk.Stream, _ int, _ bool) sdk.Action {
		kept = s
		return sdk.Continue
	})
	s.SendRequestHeaders(sdktest.Headers("x-a", "1"), true)
	s.Finish()
	if err := kept.RequestHeaders().Set("x-b", "2"); !errors.Is(err, sdk.ErrStreamDone) {
		t.Errorf("Set after delete: %v, want ErrStreamDone", err)
	}
	if _, ok := kept.RequestHeaders().Get("x-a"); ok {
		t.Error("Get after delete found a header")
	}
	if err := kept.ContinueRequest(); !errors.Is(err, sdk.ErrStreamDone) {
		t.Errorf("ContinueRequest after delete: %v, want ErrStreamDone", err)
	}
}

func TestBodies(t *testing.T) {
	tests := []struct {
		name     string
		request  bool
		chunks   []string
		pauseAll bool   // pause every chunk but the last
		replace  string // body set on the last chunk ("" keeps it)
		wantSeen string // body the filter read on the last chunk
		want     string // body as it leaves the filter
	}{
		{"request streamed", true, []string{"ab", "cd"}, false, "", "cd", "abcd"},
		{"request buffered", true, []string{"ab", "cd"}, true, "", "abcd", "abcd"},
		{"request replaced", true, []string{"ab", "cd"}, true, "XYZ", "abcd", "XYZ"},
		{"request emptied", true, []string{"ab"}, false, "\x00", "ab", ""},
		{"response buffered", false, []string{"1", "2", "3"}, true, "", "123", "123"},
		{"response replaced", false, []string{"1", "2"}, true, "new", "12", "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []byte
			var sizes []int
			ev := evRespBody
			if tt.request {
				ev = evReqBody
			}
			_, _, s := start(t, func(got string, s *sdk.Stream, size int, eos bool) sdk.Action {
				if got != ev {
					return sdk.Continue
				}
				sizes = append(sizes, size)
				if !eos {
					if tt.pauseAll {
						return sdk.Pause
					}
					return sdk.Continue
				}
				var err error
				get, set := s.ResponseBody, s.SetResponseBody
				if tt.request {
					get, set = s.RequestBody, s.SetRequestBody
				}
				seen, err = get()
				must(t, err)
				if tt.replace == "\x00" {
					must(t, set(nil))
				} else if tt.replace != "" {
					must(t, set([]byte(tt.replace)))
				}
				return sdk.Continue
			})
			for i, c := range tt.chunks {
				eos := i == len(tt.chunks)-1
				if tt.request {
					s.SendRequestBody([]byte(c), eos)
				} else {
					s.SendResponseBody([]byte(c), eos)
				}
			}
			if string(seen) != tt.wantSeen {
				t.Errorf("filter read %q, want %q", seen, tt.wantSeen)
			}
			got := s.ResponseBody()
			if tt.request {
				got = s.RequestBody()
			}
			if string(got) != tt.want {
				t.Errorf("body %q, want %q", got, tt.want)
			}
			if last := sizes[len(sizes)-1]; last != len(tt.wantSeen) {
				t.Errorf("last body size %d, want %d", last, len(tt.wantSeen))
			}
		})
	}
}

func TestLocalResponse(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		headers []sdk.Header
		wantErr error
	}{
		{"forbidden with headers", 403, "no", sdktest.Headers("content-type", "text/plain", "x-why", "policy"), nil},
		{"redirect without body", 302, "", sdktest.Headers("location", "/login"), nil},
		{"no headers", 200, "ok", nil, nil},
		{"status too low", 99, "", nil, sdk.ErrBadArgument},
		{"status too high", 1000, "", nil, sdk.ErrBadArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			_, _, s := start(t, func(ev string, s *sdk.Stream, _ int, _ bool) sdk.Action {
				err = s.SendLocalResponse(tt.status, []byte(tt.body), tt.headers...)
				return sdk.Pause
			})
			if a := s.SendRequestHeaders(nil, true); a != sdk.Pause {
				t.Errorf("action %v", a)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			lr := s.LocalResponse()
			if tt.wantErr != nil {
				if lr != nil {
					t.Errorf("a refused local response was sent: %+v", lr)
				}
				return
			}
			if lr == nil || lr.StatusCode != tt.status || string(lr.Body) != tt.body || !slices.Equal(lr.Headers, tt.headers) || lr.GRPCStatus != -1 {
				t.Errorf("local response %+v, want %d %q %v", lr, tt.status, tt.body, tt.headers)
			}
		})
	}
}

func TestContinueAndClose(t *testing.T) {
	tests := []struct {
		name string
		do   func(s *sdk.Stream) error
		want func(s *sdktest.Stream) bool
	}{
		{"continue request", (*sdk.Stream).ContinueRequest, func(s *sdktest.Stream) bool { return s.RequestContinued() == 1 }},
		{"continue response", (*sdk.Stream).ContinueResponse, func(s *sdktest.Stream) bool { return s.ResponseContinued() == 1 }},
		{"close request", (*sdk.Stream).CloseRequest, (*sdktest.Stream).RequestClosed},
		{"close response", (*sdk.Stream).CloseResponse, (*sdktest.Stream).ResponseClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, s := start(t, func(ev string, s *sdk.Stream, _ int, _ bool) sdk.Action {
				must(t, tt.do(s))
				return sdk.Pause
			})
			s.SendRequestHeaders(nil, true)
			if !tt.want(s) {
				t.Error("the host did not see it")
			}
		})
	}
}

func TestConfig(t *testing.T) {
	type cfg struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	tests := []struct {
		name    string
		config  string
		want    cfg
		wantErr string // in the error NewPlugin returns, and in the error log
	}{
		{"valid", `{"name":"a","count":2}`, cfg{"a", 2}, ""},
		{"empty keeps defaults", "", cfg{"default", 1}, ""},
		{"whitespace keeps defaults", " \n", cfg{"default", 1}, ""},
		{"unknown field", `{"name":"a","extra":1}`, cfg{}, `unknown field "extra"`},
		{"wrong type", `{"count":"x"}`, cfg{}, "cannot unmarshal"},
		{"trailing data", `{"name":"a"} {}`, cfg{}, "trailing data"},
		{"not json", `name: a`, cfg{}, "sdk: config:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.NewHost(t)
			var got cfg
			_, err := h.NewPlugin(func(pc sdk.PluginConfig) (sdk.Plugin, error) {
				got = cfg{"default", 1}
				if err := pc.Decode(&got); err != nil {
					return nil, err
				}
				return &hookPlugin{f: &hookFilter{}}, nil
			}, tt.config)
			if tt.wantErr == "" {
				must(t, err)
				if got != tt.want {
					t.Errorf("decoded %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewPlugin error %v, want one containing %q", err, tt.wantErr)
			}
			logged := false
			for _, e := range h.Logs() {
				if e.Level == sdk.LevelError && strings.HasPrefix(e.Message, "plugin configuration refused: ") && strings.Contains(e.Message, tt.wantErr) {
					logged = true
				}
			}
			if !logged {
				t.Errorf("no error-level log gives the reason; logs: %v", h.Logs())
			}
		})
	}
}

func TestConfigureFailures(t *testing.T) {
	tests := []struct {
		name    string
		factory sdk.PluginFactory
		wantErr string
	}{
		{"factory error", func(sdk.PluginConfig) (sdk.Plugin, error) { return nil, errors.New("no way") }, "plugin configuration refused: no way"},
		{"nil plugin", func(sdk.PluginConfig) (sdk.Plugin, error) { return nil, nil }, "nil Plugin"},
		{"nothing registered", nil, "no plugin registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.NewHost(t)
			_, err := h.NewPlugin(tt.factory, "")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigBytes(t *testing.T) {
	h := sdktest.NewHost(t)
	var got []byte
	_, err := h.NewPlugin(func(pc sdk.PluginConfig) (sdk.Plugin, error) {
		got = pc.Data
		return &hookPlugin{f: &hookFilter{}}, nil
	}, "raw \x00 bytes")
	must(t, err)
	if string(got) != "raw \x00 bytes" {
		t.Errorf("config %q", got)
	}
}

func TestIsTokenChar(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"aZ09!#$%&'*+-.^_`|~", true},
		{" ", false}, {":", false}, {"\x00", false}, {"\r", false}, {"\n", false},
		{"(", false}, {"\"", false}, {"/", false}, {"\x7f", false}, {"\xff", false},
	} {
		for i := 0; i < len(tc.s); i++ {
			if got := sdk.IsTokenChar(tc.s[i]); got != tc.want {
				t.Errorf("IsTokenChar(%q) = %v, want %v", tc.s[i], got, tc.want)
			}
		}
	}
}
