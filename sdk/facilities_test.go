package sdk_test

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/sdktest"
)

func le64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

func TestProperties(t *testing.T) {
	tests := []struct {
		name    string
		path    []string
		get     func(path ...string) (any, error)
		want    any
		wantErr error
	}{
		{"stream string", []string{"request", "path"}, asAny(sdk.PropertyString), "/stream", nil},
		{"host string", []string{"plugin_name"}, asAny(sdk.PropertyString), "hdr", nil},
		{"stream shadows host", []string{"node", "id"}, asAny(sdk.PropertyString), "stream-node", nil},
		{"int", []string{"request", "size"}, asAny(sdk.PropertyInt), int64(1234), nil},
		{"negative int", []string{"x", "neg"}, asAny(sdk.PropertyInt), int64(-5), nil},
		{"bytes", []string{"request", "path"}, asAny(sdk.Property), []byte("/stream"), nil},
		{"missing", []string{"request", "nope"}, asAny(sdk.PropertyString), "", sdk.ErrNotFound},
		{"segments are not joined by dots", []string{"request.path"}, asAny(sdk.PropertyString), "", sdk.ErrNotFound},
		{"int of wrong size", []string{"request", "path"}, asAny(sdk.PropertyInt), int64(0), sdk.ErrSerializationFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			var err error
			h, _, s := start(t, func(ev string, _ *sdk.Stream, _ int, _ bool) sdk.Action {
				got, err = tt.get(tt.path...)
				return sdk.Continue
			})
			h.SetProperty([]byte("hdr"), "plugin_name")
			h.SetProperty([]byte("host-node"), "node", "id")
			s.SetProperty([]byte("stream-node"), "node", "id")
			s.SetProperty([]byte("/stream"), "request", "path")
			s.SetProperty(le64(1234), "request", "size")
			s.SetProperty(le64(-5), "x", "neg")
			s.SendRequestHeaders(nil, true)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if b, ok := got.([]byte); ok {
				got = string(b)
				tt.want = string(tt.want.([]byte))
			}
			if got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func asAny[T any](f func(path ...string) (T, error)) func(path ...string) (any, error) {
	return func(path ...string) (any, error) {
		v, err := f(path...)
		return v, err
	}
}

func TestSetProperty(t *testing.T) {
	var got string
	_, _, s := start(t, func(ev string, _ *sdk.Stream, _ int, _ bool) sdk.Action {
		must(t, sdk.SetProperty([]byte("v"), "filter_state", "k"))
		var err error
		got, err = sdk.PropertyString("filter_state", "k")
		must(t, err)
		return sdk.Continue
	})
	s.SendRequestHeaders(nil, true)
	if got != "v" {
		t.Errorf("read back %q", got)
	}
}

func TestSharedData(t *testing.T) {
	h := sdktest.NewHost(t)
	_, err := h.NewPlugin(func(sdk.PluginConfig) (sdk.Plugin, error) {
		if _, _, err := sdk.GetSharedData("k"); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("get missing: %v, want ErrNotFound", err)
		}
		must(t, sdk.SetSharedData("k", []byte("v1"), 0))
		v, cas, err := sdk.GetSharedData("k")
		must(t, err)
		if string(v) != "v1" || cas == 0 {
			t.Errorf("got %q cas %d", v, cas)
		}
		// Another instance writes: our token is stale.
		h.SetSharedData("k", []byte("other"))
		if err := sdk.SetSharedData("k", []byte("v2"), cas); !errors.Is(err, sdk.ErrCASMismatch) {
			t.Errorf("stale cas: %v, want ErrCASMismatch", err)
		}
		v, cas, err = sdk.GetSharedData("k")
		must(t, err)
		if string(v) != "other" {
			t.Errorf("got %q", v)
		}
		must(t, sdk.SetSharedData("k", []byte("v3"), cas))
		return &hookPlugin{f: &hookFilter{}}, nil
	}, "")
	must(t, err)
	if v, _, ok := h.SharedData("k"); !ok || string(v) != "v3" {
		t.Errorf("host holds %q %v", v, ok)
	}
}

func TestQueues(t *testing.T) {
	var ready []string
	hp := &hookPlugin{f: &hookFilter{}}
	hp.queue = func(q sdk.Queue) {
		for {
			item, err := q.Dequeue()
			if errors.Is(err, sdk.ErrEmpty) {
				return
			}
			must(t, err)
			ready = append(ready, string(item))
		}
	}
	h := sdktest.NewHost(t)
	_, err := h.NewPlugin(func(sdk.PluginConfig) (sdk.Plugin, error) {
		q, err := sdk.RegisterQueue("jobs")
		must(t, err)
		must(t, q.Enqueue([]byte("mine")))
		r, err := sdk.ResolveQueue("", "jobs")
		must(t, err)
		if r != q {
			t.Errorf("resolved %v, registered %v", r, q)
		}
		if _, err := sdk.ResolveQueue("", "nope"); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("resolve missing: %v", err)
		}
		return hp, nil
	}, "")
	must(t, err)
	if got := h.Queue("jobs"); len(got) != 1 || string(got[0]) != "mine" {
		t.Errorf("queue holds %q", got)
	}
	must(t, h.Enqueue("jobs", []byte("theirs")))
	if !slices.Equal(ready, []string{"mine", "theirs"}) {
		t.Errorf("dequeued %q", ready)
	}
}

func TestMetrics(t *testing.T) {
	h := sdktest.NewHost(t)
	_, err := h.NewPlugin(func(sdk.PluginConfig) (sdk.Plugin, error) {
		c, err := sdk.NewCounter("requests")
		must(t, err)
		must(t, c.Add(2))
		must(t, c.Add(3))
		if v, err := c.Value(); err != nil || v != 5 {
			t.Errorf("counter %d %v", v, err)
		}
		again, err := sdk.NewCounter("requests")
		must(t, err)
		if again != c {
			t.Error("defining a counter twice gave another metric")
		}
		if _, err := sdk.NewGauge("requests"); !errors.Is(err, sdk.ErrBadArgument) {
			t.Errorf("redefining as gauge: %v", err)
		}
		g, err := sdk.NewGauge("inflight")
		must(t, err)
		must(t, g.Set(10))
		must(t, g.Add(-12))
		if v, err := g.Value(); err != nil || v != -2 {
			t.Errorf("gauge %d %v", v, err)
		}
		hist, err := sdk.NewHistogram("latency_ms")
		must(t, err)
		must(t, hist.Record(42))
		return &hookPlugin{f: &hookFilter{}}, nil
	}, "")
	must(t, err)
	for name, want := range map[string]uint64{"requests": 5, "inflight": uint64(1<<64 - 2), "latency_ms": 42} {
		if v, ok := h.Metric(name); !ok || v != want {
			t.Errorf("%s = %d %v, want %d", name, v, ok, want)
		}
	}
}

func TestLogging(t *testing.T) {
	tests := []struct {
		name  string
		level sdk.LogLevel
		want  []sdktest.LogEntry
	}{
		{"all", sdk.LevelTrace, []sdktest.LogEntry{
			{Level: sdk.LevelDebug, Message: "d 1"}, {Level: sdk.LevelInfo, Message: "i 2"},
			{Level: sdk.LevelWarn, Message: "w 3"}, {Level: sdk.LevelError, Message: "e 4"},
			{Level: sdk.LevelCritical, Message: "c"}}},
		{"warn and up", sdk.LevelWarn, []sdktest.LogEntry{
			{Level: sdk.LevelWarn, Message: "w 3"}, {Level: sdk.LevelError, Message: "e 4"},
			{Level: sdk.LevelCritical, Message: "c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.NewHost(t)
			h.SetLogLevel(tt.level)
			formatted := 0
			counter := stringer(func() string { formatted++; return "1" })
			_, err := h.NewPlugin(func(sdk.PluginConfig) (sdk.Plugin, error) {
				sdk.Debugf("d %v", counter)
				sdk.Infof("i %d", 2)
				sdk.Warnf("w %d", 3)
				sdk.Errorf("e %d", 4)
				sdk.Log(sdk.LevelCritical, "c")
				return &hookPlugin{f: &hookFilter{}}, nil
			}, "")
			must(t, err)
			if got := h.Logs(); !slices.Equal(got, tt.want) {
				t.Errorf("logs %v, want %v", got, tt.want)
			}
			if wantFormatted := map[bool]int{true: 1, false: 0}[tt.level <= sdk.LevelDebug]; formatted != wantFormatted {
				t.Errorf("debug message formatted %d times, want %d", formatted, wantFormatted)
			}
		})
	}
}

type stringer func() string

func (s stringer) String() string { return s() }

func TestTickAndTime(t *testing.T) {
	ticks := 0
	var now time.Time
	hp := &hookPlugin{f: &hookFilter{}, tick: func() { ticks++; now = sdk.Now() }}
	h := sdktest.NewHost(t)
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	h.SetNow(at)
	p, err := h.NewPlugin(func(sdk.PluginConfig) (sdk.Plugin, error) {
		if err := sdk.SetTickPeriod(-time.Second); !errors.Is(err, sdk.ErrBadArgument) {
			t.Errorf("negative period: %v", err)
		}
		must(t, sdk.SetTickPeriod(1500*time.Microsecond))
		return hp, nil
	}, "")
	must(t, err)
	if p.TickPeriod() != 2*time.Millisecond {
		t.Errorf("tick period %v, want 2ms (rounded up)", p.TickPeriod())
	}
	p.Tick()
	p.Tick()
	if ticks != 2 || !now.Equal(at) {
		t.Errorf("ticks %d, now %v", ticks, now)
	}
}

func TestHTTPCallFromStream(t *testing.T) {
	type result struct {
		status  int
		body    string
		hdr     string
		trailer string
		err     error
		path    string // the stream's :path, read in the callback
	}
	tests := []struct {
		name    string
		answer  func(c *sdktest.HTTPCall)
		finish  bool // the stream ends before the answer
		want    *result
		resumed bool
	}{
		{"answered", func(c *sdktest.HTTPCall) {
			c.Respond(sdktest.HTTPCallResponse{StatusCode: 200, Headers: sdktest.Headers("x-r", "1"), Body: []byte("yes"), Trailers: sdktest.Headers("x-t", "2")})
		}, false, &result{status: 200, body: "yes", hdr: "1", trailer: "2", path: "/p"}, true},
		{"status from headers", func(c *sdktest.HTTPCall) {
			c.Respond(sdktest.HTTPCallResponse{Headers: sdktest.Headers(":status", "503")})
		}, false, &result{status: 503, path: "/p"}, true},
		{"failed", (*sdktest.HTTPCall).Fail, false, &result{err: sdk.ErrHTTPCallFailed, path: "/p"}, true},
		{"stream gone", func(c *sdktest.HTTPCall) { c.Respond(sdktest.HTTPCallResponse{StatusCode: 200}) }, true, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *result
			h, _, s := start(t, func(ev string, s *sdk.Stream, _ int, _ bool) sdk.Action {
				if ev != evReqHeaders {
					return sdk.Continue
				}
				err := sdk.HTTPCall("auth", sdktest.Headers(":method", "GET", ":path", "/check", ":authority", "auth"), []byte("q"), 2*time.Second,
					func(resp *sdk.CallResponse, err error) {
						got = &result{err: err}
						got.path, _ = s.RequestHeaders().Get(":path")
						if resp != nil {
							got.status, got.body = resp.StatusCode, string(resp.Body)
							for _, f := range resp.Headers {
								if f.Name == "x-r" {
									got.hdr = f.Value
								}
							}
							if len(resp.Trailers) == 1 {
								got.trailer = resp.Trailers[0].Value
							}
						}
						must(t, s.RequestHeaders().Set("x-checked", "1"))
						must(t, s.ContinueRequest())
					})
				must(t, err)
				return sdk.Pause
			})
			if a := s.SendRequestHeaders(sdktest.Headers(":path", "/p"), true); a != sdk.Pause {
				t.Fatalf("action %v", a)
			}
			calls := h.HTTPCalls()
			if len(calls) != 1 {
				t.Fatalf("%d calls", len(calls))
			}
			c := calls[0]
			if c.Upstream != "auth" || string(c.Body) != "q" || c.Timeout != 2*time.Second {
				t.Errorf("call %+v", c)
			}
			if v, _ := c.Header(":path"); v != "/check" {
				t.Errorf("call :path %q", v)
			}
			if tt.finish {
				s.Finish()
			}
			tt.answer(c)
			if tt.want == nil {
				if got != nil {
					t.Errorf("callback ran for a finished stream: %+v", got)
				}
				return
			}
			if got == nil {
				t.Fatal("callback did not run")
			}
			if !errors.Is(got.err, tt.want.err) || got.status != tt.want.status || got.body != tt.want.body ||
				got.hdr != tt.want.hdr || got.trailer != tt.want.trailer || got.path != tt.want.path {
				t.Errorf("callback saw %+v, want %+v", got, tt.want)
			}
			if (s.RequestContinued() == 1) != tt.resumed {
				t.Errorf("continued %d", s.RequestContinued())
			}
			if v, _ := headerValue(s.RequestHeaders(), "x-checked"); v != "1" {
				t.Errorf("header set from the callback missing: %v", s.RequestHeaders())
			}
			if len(h.HTTPCalls()) != 0 {
				t.Error("answered call still pending")
			}
		})
	}
}

func headerValue(hs []sdk.Header, name string) (string, bool) {
	for _, f := range hs {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

func TestHTTPCallFromPluginAndErrors(t *testing.T) {
	var body string
	hp := &hookPlugin{f: &hookFilter{}}
	hp.tick = func() {
		must(t, sdk.HTTPCall("jwks", sdktest.Headers(":method", "GET", ":path", "/keys", ":authority", "idp"), nil, 0,
			func(resp *sdk.CallResponse, err error) {
				must(t, err)
				body = string(resp.Body)
				// The callback runs in the plugin context: metrics etc. work.
				c, err := sdk.NewCounter("fetched")
				must(t, err)
				must(t, c.Add(1))
			}))
	}
	h := sdktest.NewHost(t)
	p, err := h.NewPlugin(func(sdk.PluginConfig) (sdk.Plugin, error) {
		err := sdk.HTTPCall("jwks", sdktest.Headers(":method", "GET", ":path", "/keys"), nil, 0, nil)
		if !errors.Is(err, sdk.ErrBadArgument) || !strings.Contains(err.Error(), `"jwks"`) {
			t.Errorf("call without :authority: %v", err)
		}
		if err := sdk.HTTPCall("jwks", nil, nil, -time.Second, nil); !errors.Is(err, sdk.ErrBadArgument) {
			t.Errorf("negative timeout: %v", err)
		}
		return hp, nil
	}, "")
	must(t, err)
	p.Tick()
	calls := h.HTTPCalls()
	if len(calls) != 1 || calls[0].Timeout != 0 {
		t.Fatalf("calls %+v", calls)
	}
	calls[0].Respond(sdktest.HTTPCallResponse{StatusCode: 200, Body: []byte(`{"keys":[]}`)})
	if body != `{"keys":[]}` {
		t.Errorf("body %q", body)
	}
	if v, _ := h.Metric("fetched"); v != 1 {
		t.Errorf("fetched = %d", v)
	}
}

func TestErrorsMatchSentinels(t *testing.T) {
	_, _, s := start(t, nil)
	_ = s
	_, _, err := sdk.GetSharedData("missing")
	if !errors.Is(err, sdk.ErrNotFound) || errors.Is(err, sdk.ErrEmpty) {
		t.Errorf("errors.Is mismatch for %v", err)
	}
	if got, want := err.Error(), "sdk: get shared data: NOT_FOUND"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}
