package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzHostCalls drives the host functions from a guest: fuzz_call.wat
// turns the request body into one call of any Proxy-Wasm host function
// (a function number and twelve 8-byte argument slots, then data the
// arguments may point at; see the .wat). The properties:
//
//   - the host never panics (a panic in a host function would come back
//     as a "trap" recovered by wazero: that fails the target);
//   - a call fails only for a reason the guest gave: proc_exit (Trap), an
//     allocator that cannot grow memory for what the host returns (Memory),
//     or proxy_close_stream (Reset); always as a *FilterError;
//   - headers the filter leaves, in the request and a local response, are
//     well-formed (non-empty names, no CR, LF or NUL);
//   - the runtime stays usable: a fresh stream works after every call.
//
// The corpus is seeded with one valid call per function (fuzzSeeds,
// checked by TestFuzzCallSeeds). Run it with
//
//	go test ./runtime -run '^$' -fuzz FuzzHostCalls -fuzztime 2m
func FuzzHostCalls(f *testing.F) {
	wasm := readBuilt(f, "wat", "fuzz_call")
	for _, sd := range fuzzSeeds() {
		f.Add(sd.call.body())
	}
	for _, c := range limitCalls() { // calls past the host's limits
		if b := c.call.body(); len(b) <= 64<<10 {
			f.Add(b)
		}
	}
	// One engine per fuzzing process, replaced every fuzzEngineRuns calls
	// so what calls leave behind (shared data, queues, metrics) stays
	// small.
	var fh *fuzzHarness
	f.Cleanup(func() {
		if fh != nil {
			fh.close()
		}
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 64<<10 {
			body = body[:64<<10]
		}
		if fh == nil || fh.runs >= fuzzEngineRuns {
			if fh != nil {
				fh.close()
			}
			fh = newFuzzHarness(t, wasm, nil)
		}
		res := fh.run(t, body)
		checkGuestFailure(t, res.err)
		checkHeaders(t, "request", *res.host.req)
		if res.local != nil {
			checkHeaders(t, "local response", res.local.Headers)
		}
		if err := fh.fresh(); err != nil {
			t.Fatalf("after the call, a fresh stream fails: %v", err)
		}
	})
}

const fuzzEngineRuns = 1000

// Guest addresses in fuzz_call.wat: the body is at fuzzBody, the data
// after the call's 100 bytes at fuzzData; fuzzOut is free memory for
// out-parameters.
const (
	fuzzBody = 0x4000
	fuzzData = fuzzBody + 100
	fuzzOut  = 0x3000
)

// fuzzCall is one host call as fuzz_call.wat reads it from a body.
type fuzzCall struct {
	fn   uint32
	args []uint64
	data []byte
}

func (c fuzzCall) body() []byte {
	b := make([]byte, 100, 100+len(c.data))
	binary.LittleEndian.PutUint32(b, c.fn)
	for k, a := range c.args {
		binary.LittleEndian.PutUint64(b[4+8*k:], a)
	}
	return append(b, c.data...)
}

// fuzzArgs lays out a call's data and returns the guest address and size
// of each piece.
type fuzzArgs struct{ data []byte }

func (a *fuzzArgs) put(p []byte) (ptr, size uint64) {
	ptr = uint64(fuzzData + len(a.data))
	a.data = append(a.data, p...)
	return ptr, uint64(len(p))
}

func (a *fuzzArgs) str(s string) (ptr, size uint64) { return a.put([]byte(s)) }

// serialized is pairs in the ABI's map encoding.
func serialized(pairs ...[2]string) []byte {
	p := Pairs(pairs)
	_, n := serializedSize(&p)
	return serializeMap(nil, &p, n)
}

// fuzzHarness is an engine with a fuzz_call plugin.
type fuzzHarness struct {
	e      *Engine
	p      *Plugin
	caller *countingCaller
	runs   int
}

const fuzzNamespace = "fuzz"

func newFuzzHarness(t testing.TB, wasm []byte, log *slog.Logger) *fuzzHarness {
	t.Helper()
	ctx := context.Background()
	e, err := NewEngine(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Compile(ctx, wasm)
	if err != nil {
		e.Close(ctx)
		t.Fatal(err)
	}
	defer m.Close(ctx) // the plugin holds it from NewPlugin on
	caller := &countingCaller{}
	p, err := e.NewPlugin(ctx, m, PluginConfig{Name: "fuzz", Namespace: fuzzNamespace, Logger: log, HTTP: caller,
		Limits: Limits{Instances: 1, MemoryPages: 64, CallDeadline: 2 * time.Second}})
	if err != nil {
		e.Close(ctx)
		t.Fatal(err)
	}
	return &fuzzHarness{e: e, p: p, caller: caller}
}

func (fh *fuzzHarness) close() {
	fh.p.Close(context.Background())
	fh.e.Close(context.Background())
}

// fuzzResult is what one call did.
type fuzzResult struct {
	host   *testHost
	out    []byte // the request body forwarded
	r      Result
	err    error
	local  *LocalResponse
	mem    []byte            // the guest's memory after the call; nil if discarded
	props  map[string][]byte // properties the stream set
	status string            // x-fuzz-status
}

// run sends body through one stream.
func (fh *fuzzHarness) run(t testing.TB, body []byte) fuzzResult {
	t.Helper()
	fh.runs++
	ctx := context.Background()
	res := fuzzResult{host: getRequest("/fuzz")}
	s, err := fh.p.NewStream(ctx, res.host)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	if _, err := s.RequestHeaders(ctx, false); err != nil {
		t.Fatalf("RequestHeaders: %v", err)
	}
	res.out, res.r, res.err = s.RequestBody(ctx, body, true)
	res.out = bytes.Clone(res.out)
	res.local = s.LocalResponse()
	in := s.in
	in.mu.Lock()
	if !in.dead.Load() {
		b, _ := in.mem.Read(0, in.mem.Size())
		res.mem = bytes.Clone(b)
	}
	res.props = maps.Clone(s.props)
	in.mu.Unlock()
	s.Close()
	res.status = header(res.host.req, "x-fuzz-status")
	return res
}

// fresh runs a stream that makes no call.
func (fh *fuzzHarness) fresh() error {
	ctx := context.Background()
	h := getRequest("/fresh")
	s, err := fh.p.NewStream(ctx, h)
	if err != nil {
		return err
	}
	defer s.Close()
	if r, err := s.RequestHeaders(ctx, false); err != nil || r != Continue {
		return errors.Join(err, errors.New("request headers: "+strconv.Itoa(int(r))))
	}
	if out, r, err := s.RequestBody(ctx, []byte("ok"), true); err != nil || r != Continue || string(out) != "ok" {
		return errors.Join(err, errors.New("request body: "+strconv.Itoa(int(r))+" "+string(out)))
	}
	return nil
}

// checkGuestFailure fails t unless err is nil or a failure the guest
// caused.
func checkGuestFailure(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var fe *FilterError
	if !errors.As(err, &fe) {
		t.Fatalf("call failed with %T %v, not a *FilterError", err, err)
	}
	if strings.Contains(err.Error(), "recovered by wazero") {
		t.Fatalf("host panic: %v", err)
	}
	switch fe.Kind {
	case Reset, Memory:
	case Trap:
		if !strings.Contains(fe.Err.Error(), "guest exited with code") {
			t.Fatalf("trap the guest did not cause: %v", err)
		}
	default:
		t.Fatalf("call failed: %v", err)
	}
}

// checkHeaders fails t if a header could corrupt the message it goes in.
func checkHeaders(t *testing.T, where string, p Pairs) {
	t.Helper()
	for _, kv := range p {
		if kv[0] == "" || strings.ContainsAny(kv[0], "\r\n\x00") || strings.ContainsAny(kv[1], "\r\n\x00") {
			t.Fatalf("%s header %q: %q is malformed (all: %q)", where, kv[0], kv[1], p)
		}
	}
}

// fuzzSeed is a valid call of one function, with what Wedge answers.
type fuzzSeed struct {
	name  string
	call  fuzzCall
	want  string // x-fuzz-status; "" when the call does not return
	check func(t *testing.T, fh *fuzzHarness, r fuzzResult)
}

func u32At(mem []byte, addr uint64) uint32 { return binary.LittleEndian.Uint32(mem[addr:]) }
func u64At(mem []byte, addr uint64) uint64 { return binary.LittleEndian.Uint64(mem[addr:]) }

// returned reads the (pointer, size) pair a host function wrote at addr.
func returned(mem []byte, addr uint64) string {
	ptr, n := u32At(mem, addr), u32At(mem, addr+4)
	return string(mem[ptr : ptr+n])
}

// recent reports whether nanos is a Unix time within a minute of now.
func recent(nanos uint64) bool {
	d := time.Since(time.Unix(0, int64(nanos)))
	return d > -time.Minute && d < time.Minute
}

// fuzzSeeds are one valid call per function, in fuzz_call.wat's order.
// Some rely on earlier ones on the same engine (get after set, the queue
// registered first has id 1, the first metric id 1).
func fuzzSeeds() []fuzzSeed {
	const out = fuzzOut
	var seeds []fuzzSeed
	add := func(name string, want string, build func(a *fuzzArgs) []uint64, check func(t *testing.T, fh *fuzzHarness, r fuzzResult)) {
		a := &fuzzArgs{}
		args := build(a)
		seeds = append(seeds, fuzzSeed{name: name, want: want, check: check,
			call: fuzzCall{fn: uint32(len(seeds)), args: args, data: a.data}})
	}
	okMap := serialized([2]string{":method", "GET"}, [2]string{":path", "/"}, [2]string{":authority", "up"})
	add("proxy_log", "0", func(a *fuzzArgs) []uint64 {
		p, n := a.str("fuzz says hello")
		return []uint64{2, p, n}
	}, nil)
	add("proxy_get_log_level", "0", func(a *fuzzArgs) []uint64 { return []uint64{out} },
		func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
			if got := u32At(r.mem, out); got != 1 { // the test logger takes debug lines
				t.Errorf("log level %d, want 1 (debug)", got)
			}
		})
	add("proxy_get_current_time_nanoseconds", "0", func(a *fuzzArgs) []uint64 { return []uint64{out} },
		func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
			if !recent(u64At(r.mem, out)) {
				t.Errorf("time %d is not now", u64At(r.mem, out))
			}
		})
	add("proxy_set_tick_period_milliseconds", "0", func(a *fuzzArgs) []uint64 { return []uint64{0} }, nil)
	add("proxy_get_property", "0", func(a *fuzzArgs) []uint64 {
		p, n := a.str("plugin_name")
		return []uint64{p, n, out, out + 4}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if got := returned(r.mem, out); got != "fuzz" {
			t.Errorf("plugin_name %q", got)
		}
	})
	add("proxy_set_property", "0", func(a *fuzzArgs) []uint64 {
		p, n := a.str("fuzz\x00key")
		v, vn := a.str("v")
		return []uint64{p, n, v, vn}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if got := string(r.props["fuzz\x00key"]); got != "v" {
			t.Errorf("property %q", got)
		}
	})
	add("proxy_get_header_map_pairs", "0", func(a *fuzzArgs) []uint64 { return []uint64{mapRequestHeaders, out, out + 4} },
		func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
			var got Pairs
			if err := parseMap([]byte(returned(r.mem, out)), func(k, v string) { got.Add(k, v) }); err != nil || header(&got, ":path") != "/fuzz" {
				t.Errorf("pairs %q, %v", got, err)
			}
		})
	add("proxy_set_header_map_pairs", "0", func(a *fuzzArgs) []uint64 {
		p, n := a.put(serialized([2]string{"a", "b"}))
		return []uint64{mapRequestHeaders, p, n}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if header(r.host.req, "a") != "b" || header(r.host.req, ":path") != "/fuzz" {
			t.Errorf("request headers %q", *r.host.req)
		}
	})
	add("proxy_get_header_map_value", "0", func(a *fuzzArgs) []uint64 {
		p, n := a.str(":path")
		return []uint64{mapRequestHeaders, p, n, out, out + 4}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if got := returned(r.mem, out); got != "/fuzz" {
			t.Errorf(":path %q", got)
		}
	})
	add("proxy_add_header_map_value", "0", func(a *fuzzArgs) []uint64 {
		k, kn := a.str("x-added")
		v, vn := a.str("1")
		return []uint64{mapRequestHeaders, k, kn, v, vn}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if header(r.host.req, "x-added") != "1" {
			t.Errorf("request headers %q", *r.host.req)
		}
	})
	add("proxy_replace_header_map_value", "0", func(a *fuzzArgs) []uint64 {
		k, kn := a.str(":path")
		v, vn := a.str("/replaced")
		return []uint64{mapRequestHeaders, k, kn, v, vn}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if header(r.host.req, ":path") != "/replaced" {
			t.Errorf("request headers %q", *r.host.req)
		}
	})
	add("proxy_remove_header_map_value", "0", func(a *fuzzArgs) []uint64 {
		k, kn := a.str(":authority")
		return []uint64{mapRequestHeaders, k, kn}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if _, ok := r.host.req.Get(":authority"); ok {
			t.Errorf("request headers %q", *r.host.req)
		}
	})
	add("proxy_get_header_map_size", "0", func(a *fuzzArgs) []uint64 { return []uint64{mapRequestHeaders, out} },
		func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
			want, _ := serializedSize(getRequest("/fuzz").req)
			if got := u32At(r.mem, out); got != uint32(want) {
				t.Errorf("size %d, want %d", got, want)
			}
		})
	add("proxy_get_buffer_bytes", "0", func(a *fuzzArgs) []uint64 {
		a.str("data")
		return []uint64{bufRequestBody, 100, 4, out, out + 4}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if got := returned(r.mem, out); got != "data" {
			t.Errorf("body bytes %q", got)
		}
	})
	add("proxy_get_buffer_status", "0", func(a *fuzzArgs) []uint64 { return []uint64{bufRequestBody, out, out + 4} },
		func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
			if got := u32At(r.mem, out); got != 100 {
				t.Errorf("body size %d, want 100", got)
			}
		})
	add("proxy_set_buffer_bytes", "0", func(a *fuzzArgs) []uint64 {
		p, n := a.str("replaced")
		return []uint64{bufRequestBody, 0, 1 << 20, p, n}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if string(r.out) != "replaced" {
			t.Errorf("body forwarded %q", r.out)
		}
	})
	add("proxy_continue_stream", "0", func(a *fuzzArgs) []uint64 { return []uint64{streamRequest} }, nil)
	add("proxy_close_stream", "0", func(a *fuzzArgs) []uint64 { return []uint64{streamRequest} },
		func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
			if KindOf(r.err) != Reset {
				t.Errorf("error %v, want a reset", r.err)
			}
		})
	// No HTTP call in progress: NOT_FOUND.
	add("proxy_get_status", "1", func(a *fuzzArgs) []uint64 { return []uint64{out, out + 4, out + 8} }, nil)
	add("proxy_send_local_response", "0", func(a *fuzzArgs) []uint64 {
		d, dn := a.str("details")
		b, bn := a.str("denied")
		h, hn := a.put(serialized([2]string{"x-denied", "yes"}))
		return []uint64{403, d, dn, b, bn, h, hn, 0xffffffff}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if r.r != Respond || r.local == nil || r.local.Status != 403 || string(r.local.Body) != "denied" ||
			header(&r.local.Headers, "x-denied") != "yes" {
			t.Errorf("result %v, local response %+v", r.r, r.local)
		}
	})
	add("proxy_http_call", "0", func(a *fuzzArgs) []uint64 {
		u, un := a.str("up")
		h, hn := a.put(okMap)
		b, bn := a.str("ping")
		return []uint64{u, un, h, hn, b, bn, 0, 0, 1000, out}
	}, func(t *testing.T, fh *fuzzHarness, r fuzzResult) {
		if u32At(r.mem, out) == 0 {
			t.Error("no call id")
		}
		for wait := time.Millisecond; fh.caller.calls.Load() == 0 && wait < 5*time.Second; wait *= 2 {
			time.Sleep(wait)
		}
		if n := fh.caller.calls.Load(); n != 1 {
			t.Errorf("%d calls dispatched, want 1", n)
		}
	})
	// gRPC and foreign functions are stubs: UNIMPLEMENTED.
	add("proxy_grpc_call", "12", func(a *fuzzArgs) []uint64 { return make([]uint64, 12) }, nil)
	add("proxy_grpc_stream", "12", func(a *fuzzArgs) []uint64 { return make([]uint64, 9) }, nil)
	add("proxy_grpc_send", "12", func(a *fuzzArgs) []uint64 { return make([]uint64, 4) }, nil)
	add("proxy_grpc_cancel", "12", func(a *fuzzArgs) []uint64 { return []uint64{1} }, nil)
	add("proxy_grpc_close", "12", func(a *fuzzArgs) []uint64 { return []uint64{1} }, nil)
	add("proxy_set_shared_data", "0", func(a *fuzzArgs) []uint64 {
		k, kn := a.str("fuzz-key")
		v, vn := a.str("v1")
		return []uint64{k, kn, v, vn, 0}
	}, func(t *testing.T, fh *fuzzHarness, r fuzzResult) {
		if v, _, _ := fh.e.shared.get(fuzzNamespace, "fuzz-key"); string(v) != "v1" {
			t.Errorf("shared value %q", v)
		}
	})
	add("proxy_get_shared_data", "0", func(a *fuzzArgs) []uint64 {
		k, kn := a.str("fuzz-key")
		return []uint64{k, kn, out, out + 4, out + 8}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if got, cas := returned(r.mem, out), u32At(r.mem, out+8); got != "v1" || cas != 1 {
			t.Errorf("shared value %q, cas %d", got, cas)
		}
	})
	add("proxy_register_shared_queue", "0", func(a *fuzzArgs) []uint64 {
		n, nn := a.str("fuzz-q")
		return []uint64{n, nn, out}
	}, func(t *testing.T, fh *fuzzHarness, r fuzzResult) {
		if id, ok := fh.e.shared.resolve(fuzzNamespace, "fuzz-q"); !ok || id != 1 || u32At(r.mem, out) != 1 {
			t.Errorf("queue %d %v, returned %d; want 1", id, ok, u32At(r.mem, out))
		}
	})
	add("proxy_resolve_shared_queue", "0", func(a *fuzzArgs) []uint64 {
		n, nn := a.str("fuzz-q")
		return []uint64{0, 0, n, nn, out}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if id := u32At(r.mem, out); id != 1 {
			t.Errorf("queue id %d, want 1", id)
		}
	})
	add("proxy_enqueue_shared_queue", "0", func(a *fuzzArgs) []uint64 {
		p, n := a.str("item")
		return []uint64{1, p, n}
	}, nil)
	add("proxy_dequeue_shared_queue", "0", func(a *fuzzArgs) []uint64 { return []uint64{1, out, out + 4} },
		func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
			if got := returned(r.mem, out); got != "item" {
				t.Errorf("dequeued %q", got)
			}
		})
	add("proxy_define_metric", "0", func(a *fuzzArgs) []uint64 {
		n, nn := a.str("fuzz_metric")
		return []uint64{uint64(Counter), n, nn, out}
	}, func(t *testing.T, fh *fuzzHarness, r fuzzResult) {
		if id := u32At(r.mem, out); id != 1 || len(fh.p.Metrics()) != 1 || fh.p.Metrics()[0].Name != "fuzz_metric" {
			t.Errorf("metric id %d, metrics %+v", id, fh.p.Metrics())
		}
	})
	add("proxy_record_metric", "0", func(a *fuzzArgs) []uint64 { return []uint64{1, 5} },
		func(t *testing.T, fh *fuzzHarness, r fuzzResult) {
			if v := fh.p.Metrics()[0].Value; v != 5 {
				t.Errorf("metric %d, want 5", v)
			}
		})
	add("proxy_increment_metric", "0", func(a *fuzzArgs) []uint64 { return []uint64{1, 2} },
		func(t *testing.T, fh *fuzzHarness, r fuzzResult) {
			if v := fh.p.Metrics()[0].Value; v != 7 {
				t.Errorf("metric %d, want 7", v)
			}
		})
	add("proxy_get_metric", "0", func(a *fuzzArgs) []uint64 { return []uint64{1, out} },
		func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
			if v := u64At(r.mem, out); v != 7 {
				t.Errorf("metric %d, want 7", v)
			}
		})
	add("proxy_set_effective_context", "0", func(a *fuzzArgs) []uint64 { return []uint64{1} }, nil) // the root context
	// Streams are finalised by the host whatever on_done says: NOT_FOUND.
	add("proxy_done", "1", func(a *fuzzArgs) []uint64 { return nil }, nil)
	add("proxy_call_foreign_function", "12", func(a *fuzzArgs) []uint64 {
		n, nn := a.str("f")
		return []uint64{n, nn, 0, 0, out, out + 4}
	}, nil)
	add("fd_write", "0", func(a *fuzzArgs) []uint64 {
		msg, n := a.str("fuzz writes\n")
		iov := binary.LittleEndian.AppendUint32(nil, uint32(msg))
		iov = binary.LittleEndian.AppendUint32(iov, uint32(n))
		p, _ := a.put(iov)
		return []uint64{1, p, 1, out}
	}, func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
		if n := u32At(r.mem, out); n != 12 {
			t.Errorf("%d bytes written, want 12", n)
		}
	})
	add("clock_time_get", "0", func(a *fuzzArgs) []uint64 { return []uint64{0, 1, out} },
		func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
			if !recent(u64At(r.mem, out)) {
				t.Errorf("time %d is not now", u64At(r.mem, out))
			}
		})
	add("random_get", "0", func(a *fuzzArgs) []uint64 { return []uint64{out, 16} },
		func(t *testing.T, _ *fuzzHarness, r fuzzResult) {
			if bytes.Equal(r.mem[out:out+16], make([]byte, 16)) {
				t.Error("16 zero bytes")
			}
		})
	add("environ_sizes_get", "0", func(a *fuzzArgs) []uint64 { return []uint64{out, out + 4} }, nil)
	add("environ_get", "0", func(a *fuzzArgs) []uint64 { return []uint64{out, out + 8} }, nil)
	add("args_sizes_get", "0", func(a *fuzzArgs) []uint64 { return []uint64{out, out + 4} }, nil)
	add("args_get", "0", func(a *fuzzArgs) []uint64 { return []uint64{out, out + 8} }, nil)
	add("proc_exit", "", func(a *fuzzArgs) []uint64 { return []uint64{3} },
		func(t *testing.T, fh *fuzzHarness, r fuzzResult) {
			if KindOf(r.err) != Trap || !strings.Contains(r.err.Error(), "exited with code 3") || fh.p.Crashes() != 1 {
				t.Errorf("error %v, %d crashes; want the guest's exit", r.err, fh.p.Crashes())
			}
		})
	return seeds
}

// logLines records log messages.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Message)
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

func (l *logLines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// TestFuzzCallSeeds: each seed reaches the function it names and gets the
// status Wedge answers for a valid call, with the effect the function
// has; so the fuzzer starts from every function, and fuzz_call.wat's
// dispatch is checked.
func TestFuzzCallSeeds(t *testing.T) {
	logs := &logLines{}
	fh := newFuzzHarness(t, readBuilt(t, "wat", "fuzz_call"), slog.New(logs))
	defer fh.close()
	seeds := fuzzSeeds()
	if len(seeds) != 47 {
		t.Fatalf("%d seeds, want one per host function (47)", len(seeds))
	}
	for _, sd := range seeds {
		t.Run(sd.name, func(t *testing.T) {
			r := fh.run(t, sd.call.body())
			if r.status != sd.want {
				t.Errorf("x-fuzz-status %q, want %q", r.status, sd.want)
			}
			if sd.check != nil {
				sd.check(t, fh, r)
			} else {
				checkGuestFailure(t, r.err)
			}
			if err := fh.fresh(); err != nil {
				t.Errorf("fresh stream: %v", err)
			}
		})
	}
	for _, line := range []string{"fuzz says hello", "fuzz writes"} {
		if !logs.has(line) {
			t.Errorf("the guest's %q was not logged", line)
		}
	}
}

// TestSetHeaderMapPairsRefusesMalformed pins the first FuzzHostCalls
// finding (testdata/fuzz/FuzzHostCalls/1fae4191e5b26f07):
// proxy_set_header_map_pairs put pairs into the map unchecked, so a
// filter could add empty names or CR/LF/NUL that
// proxy_add_header_map_value refuses. Now the whole call is refused with
// BAD_ARGUMENT and the map is left as it was.
func TestSetHeaderMapPairsRefusesMalformed(t *testing.T) {
	fh := newFuzzHarness(t, readBuilt(t, "wat", "fuzz_call"), nil)
	defer fh.close()
	const setPairs = 7 // fuzz_call.wat's number for proxy_set_header_map_pairs
	tests := []struct {
		name  string
		pairs [][2]string
		want  string
	}{
		{"valid", [][2]string{{"a", "b"}}, "0"},
		{"empty name", [][2]string{{"a", "b"}, {"", "x"}}, "2"},
		{"CRLF in value", [][2]string{{"a", "b\r\nx-injected: 1"}}, "2"},
		{"LF in name", [][2]string{{"a\nb", "c"}}, "2"},
		{"NUL in value", [][2]string{{"a", "b\x00"}}, "2"},
		{"space in name", [][2]string{{"a b", "c"}}, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &fuzzArgs{}
			p, n := a.put(serialized(tt.pairs...))
			r := fh.run(t, fuzzCall{fn: setPairs, args: []uint64{mapRequestHeaders, p, n}, data: a.data}.body())
			if r.err != nil || r.status != tt.want {
				t.Fatalf("status %q, %v; want %q", r.status, r.err, tt.want)
			}
			want := *getRequest("/fuzz").req
			if tt.want == "0" {
				want = append(want, tt.pairs...)
			}
			want = append(want, [2]string{"x-fuzz-status", tt.want})
			if !slices.Equal(*r.host.req, want) {
				t.Errorf("request headers %q, want %q", *r.host.req, want)
			}
		})
	}
}

// TestSharedQueueBytesBounded: queued items count against the
// namespace's shared byte budget. (They did not: one guest could park
// 10,000 items per queue, each as large as its memory, in up to 1,024
// queues, in the host's heap.)
func TestSharedQueueBytesBounded(t *testing.T) {
	fh := newFuzzHarness(t, readBuilt(t, "wat", "fuzz_call"), nil)
	defer fh.close()
	const register, enqueue, dequeue = 28, 30, 31 // fuzz_call.wat's numbers
	const item = 100_000                          // bytes from guest address 0
	a := &fuzzArgs{}
	name, n := a.str("big")
	if r := fh.run(t, fuzzCall{fn: register, args: []uint64{name, n, fuzzOut}, data: a.data}.body()); r.status != "0" {
		t.Fatalf("register: %q %v", r.status, r.err)
	}
	queued := 0
	for ; queued <= defaultQueueItems; queued++ {
		r := fh.run(t, fuzzCall{fn: enqueue, args: []uint64{1, 0, item}}.body())
		if r.status == strconv.Itoa(int(statusInternalFailure)) {
			break
		}
		if r.status != "0" {
			t.Fatalf("enqueue %d: %q %v", queued, r.status, r.err)
		}
	}
	if max := sharedMaxBytes / (item + queueItemOverhead); queued != max {
		t.Fatalf("%d items of %d bytes queued, want the budget's %d", queued, item, max)
	}
	// Taking one out frees its room.
	if r := fh.run(t, fuzzCall{fn: dequeue, args: []uint64{1, fuzzOut, fuzzOut + 4}}.body()); r.status != "0" {
		t.Fatalf("dequeue: %q %v", r.status, r.err)
	}
	if r := fh.run(t, fuzzCall{fn: enqueue, args: []uint64{1, 0, item}}.body()); r.status != "0" {
		t.Fatalf("enqueue after a dequeue: %q %v", r.status, r.err)
	}
}
