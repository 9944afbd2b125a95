package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/sdktest"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// req is one request of a scenario: at an offset from t0, from a client
// address, with headers; and what it must get.
type req struct {
	at      time.Duration
	addr    string
	headers []string
	// want: 0 for allowed, else the local response status.
	want int
	// wantHeaders are checked on the local response, or on the response
	// when allowed (response_headers).
	wantHeaders []string
}

func run(t *testing.T, h *sdktest.Host, p *sdktest.Plugin, i int, r req) {
	t.Helper()
	h.SetNow(t0.Add(r.at))
	s := p.NewStream()
	if r.addr != "" {
		s.SetProperty([]byte(r.addr), "source", "address")
	}
	a := s.SendRequestHeaders(sdktest.Headers(append([]string{":path", "/"}, r.headers...)...), true)
	lr := s.LocalResponse()
	if r.want == 0 {
		if a != sdk.Continue || lr != nil {
			t.Fatalf("request %d: action %v, local response %+v; want it allowed", i, a, lr)
		}
		s.SendResponseHeaders(sdktest.Headers(":status", "200"), true)
		checkHeaders(t, i, s.ResponseHeaders(), r.wantHeaders)
	} else {
		if a != sdk.Pause || lr == nil {
			t.Fatalf("request %d: action %v, no local response; want %d", i, a, r.want)
		}
		if lr.StatusCode != r.want {
			t.Fatalf("request %d: status %d, want %d", i, lr.StatusCode, r.want)
		}
		checkHeaders(t, i, lr.Headers, r.wantHeaders)
		if len(lr.Body) == 0 {
			t.Errorf("request %d: empty body", i)
		}
	}
	s.Finish()
}

// checkHeaders checks name, value pairs; a value "-" means absent.
func checkHeaders(t *testing.T, i int, got []sdk.Header, want []string) {
	t.Helper()
	for j := 0; j < len(want); j += 2 {
		name, v := want[j], want[j+1]
		idx := slices.IndexFunc(got, func(h sdk.Header) bool { return h.Name == name })
		switch {
		case v == "-" && idx >= 0:
			t.Errorf("request %d: %s = %q, want none", i, name, got[idx].Value)
		case v != "-" && idx < 0:
			t.Errorf("request %d: no %s, want %q (headers %v)", i, name, v, got)
		case v != "-" && got[idx].Value != v:
			t.Errorf("request %d: %s = %q, want %q", i, name, got[idx].Value, v)
		}
	}
}

const ip1 = "192.0.2.1:5555"

func TestRateLimit(t *testing.T) {
	over := func(at time.Duration, addr string, retry string, hdrs ...string) req {
		return req{at: at, addr: addr, headers: hdrs, want: 429,
			wantHeaders: []string{"retry-after", retry, "x-ratelimit-limit", "3", "x-ratelimit-remaining", "0"}}
	}
	ok := func(at time.Duration, addr string, hdrs ...string) req { return req{at: at, addr: addr, headers: hdrs} }
	tests := []struct {
		name   string
		config string
		reqs   []req
	}{
		{
			name:   "burst, then over the limit",
			config: `{"rate":1,"burst":3}`,
			reqs:   []req{ok(0, ip1), ok(0, ip1), ok(0, ip1), over(0, ip1, "1"), over(500*time.Millisecond, ip1, "1")},
		},
		{
			name:   "refill over time, never above the burst",
			config: `{"rate":1,"burst":3}`,
			reqs: []req{
				ok(0, ip1), ok(0, ip1), ok(0, ip1), over(0, ip1, "1"),
				ok(time.Second, ip1), over(time.Second, ip1, "1"),
				ok(2500*time.Millisecond, ip1), over(2500*time.Millisecond, ip1, "1"),
				// idle for a minute: a full bucket of 3, not 60.
				ok(time.Minute, ip1), ok(time.Minute, ip1), ok(time.Minute, ip1), over(time.Minute, ip1, "1"),
			},
		},
		{
			name:   "rate per period, Retry-After rounded up",
			config: `{"rate":2,"period":"1m","burst":3}`,
			reqs: []req{
				ok(0, ip1), ok(0, ip1), ok(0, ip1), over(0, ip1, "30"),
				over(29500*time.Millisecond, ip1, "1"), ok(30*time.Second, ip1),
			},
		},
		{
			name:   "fractional rate",
			config: `{"rate":0.5,"burst":3}`,
			reqs:   []req{ok(0, ip1), ok(0, ip1), ok(0, ip1), over(0, ip1, "2"), over(1001*time.Millisecond, ip1, "1"), ok(2*time.Second, ip1)},
		},
		{
			name:   "clients have their own buckets; the port does not count",
			config: `{"rate":1,"burst":3}`,
			reqs: []req{
				ok(0, "192.0.2.1:1"), ok(0, "192.0.2.1:2"), ok(0, "192.0.2.1"), over(0, "192.0.2.1:3", "1"),
				ok(0, "[2001:db8::1]:443"), ok(0, "2001:db8::1"), ok(0, "[2001:db8::1]:80"), over(0, "2001:db8::1", "1"),
				ok(0, "198.51.100.7:9"),
			},
		},
		{
			name:   "IPv4-mapped IPv6 is the IPv4 client",
			config: `{"rate":1,"burst":3}`,
			reqs:   []req{ok(0, "192.0.2.9:1"), ok(0, "[::ffff:192.0.2.9]:2"), ok(0, "::ffff:192.0.2.9"), over(0, "192.0.2.9:3", "1")},
		},
		{
			name:   "no client address: not limited",
			config: `{"rate":1,"burst":1}`,
			reqs:   []req{ok(0, ""), ok(0, ""), ok(0, "not an address"), ok(0, "not an address")},
		},
		{
			name:   "header key: one bucket per value, whatever the IP",
			config: `{"rate":1,"burst":3,"key":{"source":"header","header":"X-Api-Key"}}`,
			reqs: []req{
				ok(0, ip1, "x-api-key", "a"), ok(0, "192.0.2.2:1", "x-api-key", "a"), ok(0, "192.0.2.3:1", "x-api-key", "a"),
				over(0, "192.0.2.4:1", "1", "x-api-key", "a"),
				ok(0, ip1, "x-api-key", "b"),
			},
		},
		{
			name:   "header key missing: the IP by default",
			config: `{"rate":1,"burst":3,"key":{"source":"header","header":"x-api-key"}}`,
			reqs:   []req{ok(0, ip1), ok(0, ip1), ok(0, ip1, "x-api-key", ""), over(0, ip1, "1"), ok(0, ip1, "x-api-key", "k")},
		},
		{
			name:   "header key missing: deny",
			config: `{"rate":1,"burst":3,"key":{"source":"header","header":"x-api-key","missing":"deny"}}`,
			reqs:   []req{{addr: ip1, want: 400}, ok(0, ip1, "x-api-key", "k")},
		},
		{
			name:   "header key missing: allow",
			config: `{"rate":1,"burst":1,"key":{"source":"header","header":"x-api-key","missing":"allow"}}`,
			reqs:   []req{ok(0, ip1), ok(0, ip1), ok(0, ip1, "x-api-key", "k"), {addr: ip1, headers: []string{"x-api-key", "k"}, want: 429}},
		},
		{
			name:   "long header values share nothing but their own bucket",
			config: `{"rate":1,"burst":1,"key":{"source":"header","header":"x-api-key"}}`,
			reqs: []req{
				ok(0, ip1, "x-api-key", strings.Repeat("a", 500)), ok(0, ip1, "x-api-key", strings.Repeat("a", 499)+"b"),
				{addr: ip1, headers: []string{"x-api-key", strings.Repeat("a", 500)}, want: 429},
			},
		},
		{
			name:   "custom status",
			config: `{"rate":1,"burst":1,"status":503}`,
			reqs:   []req{ok(0, ip1), {addr: ip1, want: 503, wantHeaders: []string{"retry-after", "1", "x-ratelimit-limit", "1"}}},
		},
		{
			name:   "default burst is the rate rounded up",
			config: `{"rate":2.5}`,
			reqs: []req{ok(0, ip1), ok(0, ip1), ok(0, ip1),
				{addr: ip1, want: 429, wantHeaders: []string{"x-ratelimit-limit", "3"}}},
		},
		{
			name:   "response headers on allowed responses",
			config: `{"rate":1,"burst":3,"response_headers":true}`,
			reqs: []req{
				{addr: ip1, wantHeaders: []string{"x-ratelimit-limit", "3", "x-ratelimit-remaining", "2"}},
				{addr: ip1, wantHeaders: []string{"x-ratelimit-limit", "3", "x-ratelimit-remaining", "1"}},
				{addr: ip1, wantHeaders: []string{"x-ratelimit-limit", "3", "x-ratelimit-remaining", "0"}},
				over(0, ip1, "1"),
			},
		},
		{
			name:   "no response headers unless configured",
			config: `{"rate":1,"burst":3}`,
			reqs:   []req{{addr: ip1, wantHeaders: []string{"x-ratelimit-limit", "-", "x-ratelimit-remaining", "-"}}},
		},
		{
			name:   "response headers not added to unlimited requests",
			config: `{"rate":1,"burst":3,"response_headers":true,"key":{"source":"header","header":"x-k","missing":"allow"}}`,
			reqs:   []req{{addr: ip1, wantHeaders: []string{"x-ratelimit-limit", "-"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.NewHost(t)
			p, err := h.NewPlugin(newPlugin, tt.config)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range tt.reqs {
				run(t, h, p, i, r)
			}
		})
	}
}

// bucketState reads the state of the bucket of key material (such as
// "ip\x00192.0.2.1") of the bucket set prefix, from its slot.
func bucketState(h *sdktest.Host, prefix, material string) (int64, bool) {
	k, id, _ := locate(prefix, []byte(material))
	v, _, ok := h.SharedData(k)
	if !ok {
		return 0, false
	}
	for _, e := range decodeSlot(nil, v) {
		if e.id == id {
			return e.tat, true
		}
	}
	return 0, false
}

// setBucket stores the state of a bucket in its slot, keeping the slot's
// other buckets, as another instance would.
func setBucket(h *sdktest.Host, prefix, material string, tat int64) {
	k, id, _ := locate(prefix, []byte(material))
	v, _, _ := h.SharedData(k)
	es := decodeSlot(nil, v)
	i := slices.IndexFunc(es, func(e entry) bool { return e.id == id })
	if i < 0 {
		es = append(es, entry{id: id})
		i = len(es) - 1
	}
	es[i].tat = tat
	h.SetSharedData(k, encodeSlot(nil, es))
}

// TestRateLimitSharedState checks where a bucket is stored (its bucket
// set's name from plugin_name or the config, its key), its stored form,
// and that a bucket another instance filled limits this one.
func TestRateLimitSharedState(t *testing.T) {
	tests := []struct {
		name, config, pluginName, prefix, material string
	}{
		{"plugin name", `{"rate":1,"burst":2}`, "rl-api", "ratelimit\x00rl-api\x00", "ip\x00192.0.2.1"},
		{"no plugin name", `{"rate":1,"burst":2}`, "", "ratelimit\x00ratelimit\x00", "ip\x00192.0.2.1"},
		{"bucket from config", `{"rate":1,"burst":2,"bucket":"shared"}`, "rl-api", "ratelimit\x00shared\x00", "ip\x00192.0.2.1"},
		{"header key", `{"rate":1,"burst":2,"key":{"source":"header","header":"x-k"}}`, "rl", "ratelimit\x00rl\x00", "h\x00192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.NewHost(t)
			if tt.pluginName != "" {
				h.SetProperty([]byte(tt.pluginName), "plugin_name")
			}
			p, err := h.NewPlugin(newPlugin, tt.config)
			if err != nil {
				t.Fatal(err)
			}
			run(t, h, p, 0, req{addr: ip1, headers: []string{"x-k", "192.0.2.1"}})
			k, _, slot := locate(tt.prefix, []byte(tt.material))
			if want := tt.prefix + "slot\x00" + strconv.Itoa(slot); k != want || slot < 0 || slot >= slots {
				t.Fatalf("slot key %q (slot %d), want %q", k, slot, want)
			}
			v, _, ok := h.SharedData(k)
			if !ok || len(v) != entrySize {
				t.Fatalf("slot %q holds %q, want one entry", k, v)
			}
			if got, ok := bucketState(h, tt.prefix, tt.material); !ok || got != t0.Add(time.Second).UnixNano() {
				t.Errorf("stored tat %d (%v), want %d", got, ok, t0.Add(time.Second).UnixNano())
			}
			// Another instance takes the last token.
			setBucket(h, tt.prefix, tt.material, t0.Add(2*time.Second).UnixNano())
			run(t, h, p, 1, req{addr: ip1, headers: []string{"x-k", "192.0.2.1"}, want: 429})
		})
	}
}

// TestRateLimitContention plays other instances that write the bucket's
// slot between this instance's read and its write.
func TestRateLimitContention(t *testing.T) {
	const prefix, material = "ratelimit\x00ratelimit\x00", "ip\x00192.0.2.1"
	tests := []struct {
		name      string
		conflicts int // writes by others, one before each of our writes
		want      int
		wantTat   time.Duration // stored state after, from t0
	}{
		{"no conflict", 0, 0, time.Second},
		{"two conflicts, then ours", 2, 0, 3 * time.Second},
		{"others take the last token", 3, 429, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.NewHost(t)
			p, err := h.NewPlugin(newPlugin, `{"rate":1,"burst":3}`)
			if err != nil {
				t.Fatal(err)
			}
			// An existing slot: new ones are created without CAS.
			setBucket(h, prefix, material, t0.Add(-time.Hour).UnixNano())
			left := tt.conflicts
			interpose(t, func(k string, v []byte, cas uint32) error {
				if left > 0 {
					left--
					// another instance takes a token
					cur, _ := bucketState(h, prefix, material)
					setBucket(h, prefix, material, max(cur, t0.UnixNano())+int64(time.Second))
				}
				return sdk.SetSharedData(k, v, cas)
			})
			run(t, h, p, 0, req{addr: ip1, want: tt.want})
			got, _ := bucketState(h, prefix, material)
			if d := time.Duration(got - t0.UnixNano()); d != tt.wantTat {
				t.Errorf("stored state t0+%v, want t0+%v", d, tt.wantTat)
			}
		})
	}

	t.Run("endless conflicts: allowed, with a warning", func(t *testing.T) {
		h := sdktest.NewHost(t)
		p, err := h.NewPlugin(newPlugin, `{"rate":1,"burst":3}`)
		if err != nil {
			t.Fatal(err)
		}
		setBucket(h, prefix, material, t0.Add(-time.Hour).UnixNano())
		calls := 0
		interpose(t, func(k string, v []byte, cas uint32) error {
			calls++
			setBucket(h, prefix, material, t0.UnixNano())
			return sdk.SetSharedData(k, v, cas)
		})
		run(t, h, p, 0, req{addr: ip1})
		if calls != casAttempts {
			t.Errorf("%d attempts, want %d", calls, casAttempts)
		}
		if !h.Logged(sdk.LevelWarn, "the bucket kept changing under us; request allowed") {
			t.Errorf("no warning: %v", h.Logs())
		}
	})
}

// TestRateLimitStoreFull: when the host's shared data refuses the bucket
// (it is full), on_full decides: deny (the default) answers the
// configured status with Retry-After: 1, allow lets the request through;
// either way a warning is logged, at most one a minute, the next one
// counting those left out.
func TestRateLimitStoreFull(t *testing.T) {
	for _, tt := range []struct {
		config, warning string
		want            int
	}{
		{`{"rate":1,"burst":1}`, "request denied (on_full: deny)", 429},
		{`{"rate":1,"burst":1,"on_full":"deny","status":503}`, "request denied (on_full: deny)", 503},
		{`{"rate":1,"burst":1,"on_full":"allow"}`, "request allowed (on_full: allow)", 0},
	} {
		t.Run(tt.config, func(t *testing.T) {
			h := sdktest.NewHost(t)
			p, err := h.NewPlugin(newPlugin, tt.config)
			if err != nil {
				t.Fatal(err)
			}
			interpose(t, func(string, []byte, uint32) error { return errors.Join(sdk.ErrInternalFailure) })
			denied := req{addr: ip1, want: tt.want, wantHeaders: []string{"retry-after", "1", "x-ratelimit-limit", "-"}}
			if tt.want == 0 {
				denied.wantHeaders = nil
			}
			for i := range 3 {
				run(t, h, p, i, denied)
			}
			warnings := func() (n int, last string) {
				for _, l := range h.Logs() {
					if l.Level == sdk.LevelWarn {
						n++
						last = l.Message
					}
				}
				return n, last
			}
			if n, last := warnings(); n != 1 || !strings.Contains(last, "the host's shared data refused bucket slot") || !strings.Contains(last, tt.warning) {
				t.Fatalf("%d warnings, the last %q; want one saying %q", n, last, tt.warning)
			}
			denied.at = time.Minute
			run(t, h, p, 3, denied)
			if n, last := warnings(); n != 2 || !strings.Contains(last, "(2 more ratelimit warnings were not logged since the last one)") {
				t.Fatalf("%d warnings, the last %q; want a second counting 2 left out", n, last)
			}
		})
	}
}

// TestRateLimitBucketsExpire: buckets live in a bounded set of slots, and
// a bucket whose state is past is dropped from its slot the next time the
// slot is written, so clients that come and go never fill the store (it
// used to keep one key per client for good, and past the host's 65,536
// keys every new client was let through unlimited).
func TestRateLimitBucketsExpire(t *testing.T) {
	const prefix = "ratelimit\x00ratelimit\x00"
	h := sdktest.NewHost(t)
	p, err := h.NewPlugin(newPlugin, `{"rate":1,"burst":1}`)
	if err != nil {
		t.Fatal(err)
	}
	const clients = 5000
	addr := func(i int) string { return fmt.Sprintf("10.%d.%d.1:1", i/256, i%256) }
	for i := range clients {
		run(t, h, p, i, req{addr: addr(i)})
	}
	stored := func() (total, most int) {
		for i := range slots {
			v, _, ok := h.SharedData(prefix + "slot\x00" + strconv.Itoa(i))
			if !ok {
				continue
			}
			n := len(decodeSlot(nil, v))
			total += n
			most = max(most, n)
		}
		return total, most
	}
	if total, most := stored(); total != clients || most > slotEntries {
		t.Fatalf("%d buckets stored, at most %d in a slot; want %d, at most %d", total, most, clients, slotEntries)
	}
	if _, _, ok := h.SharedData(prefix + "ip\x00" + "10.0.0.1"); ok {
		t.Fatal("a bucket is stored under its own key")
	}
	// Still limited within the second.
	run(t, h, p, 0, req{addr: addr(0), want: 429, at: 500 * time.Millisecond})
	// A second later every bucket is full again: the next write of each
	// slot drops the buckets it held, and a returning client starts from
	// a full bucket.
	for i := range clients {
		run(t, h, p, i, req{addr: addr(i), at: time.Second})
	}
	if total, _ := stored(); total != clients {
		t.Fatalf("%d buckets stored after they all expired and came back, want %d", total, clients)
	}
	run(t, h, p, 0, req{addr: "192.0.2.200:1", at: 3 * time.Second})
	k, _, _ := locate(prefix, []byte("ip\x00192.0.2.200"))
	if v, _, _ := h.SharedData(k); len(decodeSlot(nil, v)) != 1 {
		t.Errorf("the slot written after every bucket expired holds %d buckets, want 1", len(decodeSlot(nil, v)))
	}
}

// TestRateLimitSlotFull floods one slot with new clients: the slot keeps
// slotEntries buckets, dropping the one closest to full each time, so the
// client most over its limit stays limited; a warning says so.
func TestRateLimitSlotFull(t *testing.T) {
	const prefix = "ratelimit\x00ratelimit\x00"
	h := sdktest.NewHost(t)
	p, err := h.NewPlugin(newPlugin, `{"rate":1,"period":"1h","burst":2,"key":{"source":"header","header":"x-k"}}`)
	if err != nil {
		t.Fatal(err)
	}
	_, _, victimSlot := locate(prefix, []byte("h\x00heavy"))
	var flood []string
	for i := 0; len(flood) < 2*slotEntries; i++ {
		v := "k" + strconv.Itoa(i)
		if _, _, s := locate(prefix, []byte("h\x00"+v)); s == victimSlot {
			flood = append(flood, v)
		}
	}
	run(t, h, p, 0, req{addr: ip1, headers: []string{"x-k", "heavy"}})
	run(t, h, p, 1, req{addr: ip1, headers: []string{"x-k", "heavy"}})
	run(t, h, p, 2, req{addr: ip1, headers: []string{"x-k", "heavy"}, want: 429})
	for i, v := range flood {
		run(t, h, p, 3+i, req{addr: ip1, headers: []string{"x-k", v}, at: time.Second})
	}
	k, _, _ := locate(prefix, []byte("h\x00heavy"))
	v, _, _ := h.SharedData(k)
	if n := len(decodeSlot(nil, v)); n != slotEntries {
		t.Errorf("the slot holds %d buckets, want %d", n, slotEntries)
	}
	run(t, h, p, 100, req{addr: ip1, headers: []string{"x-k", "heavy"}, at: 2 * time.Second, want: 429})
	// The last client of the flood is still counted.
	last := flood[len(flood)-1]
	run(t, h, p, 101, req{addr: ip1, headers: []string{"x-k", last}, at: 2 * time.Second})
	run(t, h, p, 102, req{addr: ip1, headers: []string{"x-k", last}, at: 2 * time.Second, want: 429})
	if !h.Logged(sdk.LevelWarn, "the one closest to full was forgotten to make room") {
		t.Errorf("no warning: %v", h.Logs())
	}
}

// TestRateLimitIgnoresForwardedFor: with source "ip" the key is the
// source.address property alone; X-Forwarded-For and its kin are the
// host's to trust (Wedge makes source.address the forwarded client only
// for the listener's trusted proxies), never the filter's.
func TestRateLimitIgnoresForwardedFor(t *testing.T) {
	h := sdktest.NewHost(t)
	p, err := h.NewPlugin(newPlugin, `{"rate":1,"burst":1}`)
	if err != nil {
		t.Fatal(err)
	}
	run(t, h, p, 0, req{addr: ip1, headers: []string{"x-forwarded-for", "203.0.113.1", "x-real-ip", "203.0.113.1", "forwarded", "for=203.0.113.1"}})
	// Another forwarded address from the same peer: the same bucket.
	run(t, h, p, 1, req{addr: ip1, headers: []string{"x-forwarded-for", "203.0.113.2", "x-real-ip", "203.0.113.2", "forwarded", "for=203.0.113.2"}, want: 429})
	// Another peer claiming to forward for the first: its own bucket.
	run(t, h, p, 2, req{addr: "198.51.100.9:1", headers: []string{"x-forwarded-for", "192.0.2.1"}})
}

func interpose(t *testing.T, f func(string, []byte, uint32) error) {
	setShared = f
	t.Cleanup(func() { setShared = sdk.SetSharedData })
}

func TestRateLimitBadConfig(t *testing.T) {
	tests := []struct {
		name, config string
		want         []string
	}{
		{"empty", ``, []string{"rate: 0: want a number of tokens per period above zero"}},
		{"no rate", `{"burst":3}`, []string{"rate: 0:"}},
		{"negative rate", `{"rate":-1}`, []string{"rate: -1:"}},
		{"rate too high", `{"rate":2e9}`, []string{"more than one token per nanosecond"}},
		{"rate too low", `{"rate":1,"period":"720h"}`, []string{"less than one token per 168h0m0s"}},
		{"bad period", `{"rate":1,"period":"soon"}`, []string{`period: "soon": want a duration`}},
		{"period without unit", `{"rate":1,"period":"60"}`, []string{`period: "60": want a duration`}},
		{"zero period", `{"rate":1,"period":"0s"}`, []string{`period: "0s": want more than zero`}},
		{"negative burst", `{"rate":1,"burst":-2}`, []string{"burst: -2: want at least 1"}},
		{"burst too large", `{"rate":1,"period":"1h","burst":9000000000000000}`, []string{"do not fit in a bucket"}},
		{"bad source", `{"rate":1,"key":{"source":"cookie"}}`, []string{`key.source: "cookie": want "ip" or "header"`}},
		{"header source without header", `{"rate":1,"key":{"source":"header"}}`, []string{"key.header: empty header name"}},
		{"bad header name", `{"rate":1,"key":{"source":"header","header":"x key"}}`, []string{`key.header: "x key": byte ' '`}},
		{"pseudo-header", `{"rate":1,"key":{"source":"header","header":":authority"}}`, []string{`key.header: ":authority"`}},
		{"header with ip source", `{"rate":1,"key":{"header":"x-k"}}`, []string{`key.header: only for source "header"`}},
		{"missing with ip source", `{"rate":1,"key":{"missing":"deny"}}`, []string{`key.missing: only for source "header"`}},
		{"bad missing", `{"rate":1,"key":{"source":"header","header":"x-k","missing":"drop"}}`, []string{`key.missing: "drop": want "ip", "deny" or "allow"`}},
		{"2xx status", `{"rate":1,"status":200}`, []string{"status: 200: want a 4xx or 5xx status"}},
		{"status out of range", `{"rate":1,"status":700}`, []string{"status: 700"}},
		{"bucket with NUL", `{"rate":1,"bucket":"a\u0000b"}`, []string{"bucket: must not contain NUL"}},
		{"bad on_full", `{"rate":1,"on_full":"block"}`, []string{`on_full: "block": want "deny" or "allow"`}},
		{"unknown field", `{"rate":1,"brust":5}`, []string{`unknown field "brust"`}},
		{"rate as a string", `{"rate":"10/s"}`, []string{"sdk: config"}},
		{"every problem at once", `{"rate":0,"period":"x","status":302,"key":{"source":"ip","missing":"deny"}}`,
			[]string{"rate: 0", `period: "x"`, "status: 302", "key.missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sdktest.NewHost(t)
			_, err := h.NewPlugin(newPlugin, tt.config)
			if err == nil {
				t.Fatal("the configuration was accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q\ndoes not say %q", err, w)
				}
			}
			if !h.Logged(sdk.LevelError, tt.want[0]) {
				t.Errorf("the reason was not logged at error level: %v", h.Logs())
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	l := limiter{interval: int64(time.Second), tau: 3 * int64(time.Second), burst: 3}
	now := t0.UnixNano()
	var tat int64
	for i, want := range []int64{2, 1, 0} {
		d := l.take(tat, now)
		if !d.allowed || d.remaining != want {
			t.Fatalf("take %d: %+v, want allowed with %d left", i, d, want)
		}
		tat = d.tat
	}
	d := l.take(tat, now)
	if d.allowed || d.retry != time.Second {
		t.Fatalf("over the burst: %+v, want denied for 1s", d)
	}
	if d := l.take(tat, now+int64(400*time.Millisecond)); d.allowed || d.retry != 600*time.Millisecond {
		t.Fatalf("0.4s later: %+v, want denied for 0.6s", d)
	}
	for _, tt := range []struct {
		d    time.Duration
		want int64
	}{{0, 1}, {time.Nanosecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {59500 * time.Millisecond, 60}} {
		if got := retryAfterSeconds(tt.d); got != tt.want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
	if decodeState([]byte("junk")) != 0 {
		t.Error("a stored value of the wrong size is not a new bucket")
	}
	if es := decodeSlot(nil, make([]byte, entrySize+1)); len(es) != 0 {
		t.Error("a slot not made of whole entries is not empty")
	}
}
