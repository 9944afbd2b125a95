package runtime

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
)

// wild_pointers.wat calls one host function with out-of-range pointers
// (oob), pointers whose end wraps in 32 bits (wrap), sizes far past memory
// (long) or out-parameters straddling the end of memory (ret). The host
// must answer with a status, change nothing, and keep the instance.

// Statuses the table expects.
const (
	stIMA      = 6  // INVALID_MEMORY_ACCESS
	stUnimpl   = 12 // UNIMPLEMENTED: gRPC and foreign functions are stubs
	wasiFault  = 21 // WASI EFAULT
	wasiOK     = 0
	notApplies = -1
)

// wildPointerCases: every function of the README's table with what Wedge
// answers in each mode (oob, wrap, long, ret); notApplies where the
// module refuses the mode for that function. Where the README leaves the
// order of checks open, Wedge checks out-parameters first:
// proxy_get_status (1) answers 6, not NOT_FOUND; proxy_http_call (2)
// answers 6 for a bad return_call_id before looking at the upstream
// (which this test allows, so a dispatched call would be seen);
// proxy_resolve_shared_queue (4) and proxy_get_property (5) answer 6.
var wildPointerCases = []struct {
	fn   string
	body bool // called in proxy_on_request_body
	want [4]int
}{
	{"proxy_log", false, [4]int{stIMA, stIMA, stIMA, notApplies}},
	{"proxy_get_log_level", false, [4]int{stIMA, notApplies, notApplies, stIMA}},
	{"proxy_get_current_time_nanoseconds", false, [4]int{stIMA, notApplies, notApplies, stIMA}},
	{"proxy_set_buffer_bytes", true, [4]int{stIMA, stIMA, stIMA, notApplies}},
	{"proxy_get_buffer_bytes", true, [4]int{stIMA, notApplies, notApplies, stIMA}},
	{"proxy_get_buffer_status", true, [4]int{stIMA, notApplies, notApplies, stIMA}},
	{"proxy_get_header_map_size", false, [4]int{stIMA, notApplies, notApplies, stIMA}},
	{"proxy_get_header_map_pairs", false, [4]int{stIMA, notApplies, notApplies, stIMA}},
	{"proxy_set_header_map_pairs", false, [4]int{stIMA, stIMA, stIMA, notApplies}},
	{"proxy_get_header_map_value", false, [4]int{stIMA, stIMA, stIMA, stIMA}},
	{"proxy_add_header_map_value", false, [4]int{stIMA, stIMA, stIMA, notApplies}},
	{"proxy_replace_header_map_value", false, [4]int{stIMA, stIMA, stIMA, notApplies}},
	{"proxy_remove_header_map_value", false, [4]int{stIMA, stIMA, stIMA, notApplies}},
	{"proxy_get_status", false, [4]int{stIMA, notApplies, notApplies, stIMA}},
	{"proxy_send_local_response", false, [4]int{stIMA, stIMA, stIMA, notApplies}},
	{"proxy_http_call", false, [4]int{stIMA, stIMA, stIMA, stIMA}},
	{"proxy_grpc_call", false, [4]int{stUnimpl, stUnimpl, stUnimpl, stUnimpl}},
	{"proxy_grpc_stream", false, [4]int{stUnimpl, stUnimpl, stUnimpl, stUnimpl}},
	{"proxy_grpc_send", false, [4]int{stUnimpl, stUnimpl, stUnimpl, notApplies}},
	{"proxy_set_shared_data", false, [4]int{stIMA, stIMA, stIMA, notApplies}},
	{"proxy_get_shared_data", false, [4]int{stIMA, stIMA, stIMA, stIMA}},
	{"proxy_register_shared_queue", false, [4]int{stIMA, stIMA, stIMA, stIMA}},
	{"proxy_resolve_shared_queue", false, [4]int{stIMA, stIMA, stIMA, stIMA}},
	{"proxy_enqueue_shared_queue", false, [4]int{stIMA, stIMA, stIMA, notApplies}},
	{"proxy_dequeue_shared_queue", false, [4]int{stIMA, notApplies, notApplies, stIMA}},
	{"proxy_define_metric", false, [4]int{stIMA, stIMA, stIMA, stIMA}},
	{"proxy_get_metric", false, [4]int{stIMA, notApplies, notApplies, stIMA}},
	{"proxy_get_property", false, [4]int{stIMA, stIMA, stIMA, stIMA}},
	{"proxy_set_property", false, [4]int{stIMA, stIMA, stIMA, notApplies}},
	{"proxy_call_foreign_function", false, [4]int{stUnimpl, stUnimpl, stUnimpl, stUnimpl}},
	{"fd_write", false, [4]int{wasiFault, wasiFault, wasiFault, wasiFault}},
	{"clock_time_get", false, [4]int{wasiFault, notApplies, notApplies, wasiFault}},
	{"random_get", false, [4]int{wasiFault, wasiFault, wasiFault, notApplies}},
	{"environ_sizes_get", false, [4]int{wasiFault, notApplies, notApplies, wasiFault}},
	{"environ_get", false, [4]int{wasiFault, notApplies, notApplies, wasiOK}},
	{"args_sizes_get", false, [4]int{wasiFault, notApplies, notApplies, wasiFault}},
	{"args_get", false, [4]int{wasiFault, notApplies, notApplies, wasiOK}},
}

var wildModes = [4]string{"oob", "wrap", "long", "ret"}

// countingCaller allows every upstream and counts the calls dispatched.
type countingCaller struct{ calls atomic.Int32 }

func (c *countingCaller) Allowed(string) bool { return true }

func (c *countingCaller) Call(context.Context, string, *HTTPRequest) (*HTTPResponse, error) {
	c.calls.Add(1)
	return &HTTPResponse{Headers: Pairs{{":status", "200"}}}, nil
}

// TestWildPointers: every host function in every mode that applies.
func TestWildPointers(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	m, err := e.Compile(ctx, readBuilt(t, "wat", "wild_pointers"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if n := len(wildPointerCases); n != 37 {
		t.Fatalf("%d functions in the table, the README has 37", n)
	}
	for _, tc := range wildPointerCases {
		for i, want := range tc.want {
			config := tc.fn + ":" + wildModes[i]
			t.Run(config, func(t *testing.T) {
				caller := &countingCaller{}
				// The namespace is the case's own: shared data and
				// queues start empty.
				p, err := e.NewPlugin(ctx, m, PluginConfig{Name: "wild", Namespace: config, Config: []byte(config),
					Limits: Limits{Instances: 1}, HTTP: caller})
				if want == notApplies {
					// The module refuses modes that do not apply, so a
					// typo in this table fails loudly.
					if KindOf(err) != Refused {
						t.Fatalf("NewPlugin: %v, want the module to refuse %q", err, config)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close(ctx)
				var first *instance
				for round := range 2 { // the same instance serves again
					h := getRequest("/wild")
					s, err := p.NewStream(ctx, h)
					if err != nil {
						t.Fatalf("round %d: NewStream: %v", round, err)
					}
					if round == 0 {
						first = s.in
					} else if s.in != first {
						t.Errorf("round %d ran on another instance", round)
					}
					if r, err := s.RequestHeaders(ctx, false); err != nil || r != Continue {
						t.Fatalf("round %d: RequestHeaders = %v, %v; want Continue", round, r, err)
					}
					out, r, err := s.RequestBody(ctx, []byte("body"), true)
					if err != nil || r != Continue || string(out) != "body" {
						t.Fatalf("round %d: RequestBody = %q, %v, %v; want the body unchanged, Continue", round, out, r, err)
					}
					h.setResponse([2]string{":status", "200"})
					if r, err := s.ResponseHeaders(ctx, true); err != nil || r != Continue {
						t.Fatalf("round %d: ResponseHeaders = %v, %v", round, r, err)
					}
					props := len(s.props)
					s.Close()

					got := header(h.resp, "x-status")
					if got != strconv.Itoa(want) {
						t.Errorf("round %d: status %s, want %d", round, got, want)
					}
					wantReq := Pairs{{":method", "GET"}, {":path", "/wild"}, {":authority", "site.test"}, {"x-wild", "1"}}
					if !tc.body {
						wantReq = append(wantReq, [2]string{"x-status", got})
					}
					if !slices.Equal(*h.req, wantReq) {
						t.Errorf("round %d: request headers %v, want %v", round, *h.req, wantReq)
					}
					if props != 0 {
						t.Errorf("round %d: %d properties set by a failed call", round, props)
					}
				}
				if n := caller.calls.Load(); n != 0 {
					t.Errorf("%d HTTP calls dispatched", n)
				}
				if _, _, ok := e.shared.get(config, "wild-key"); ok && tc.fn == "proxy_set_shared_data" {
					t.Error("shared data set by a failed call")
				}
				if _, ok := e.shared.resolve(config, "wild-queue"); ok && tc.fn == "proxy_register_shared_queue" {
					t.Error("queue registered by a failed call")
				}
				if id, ok := e.shared.resolve(config, "wild-queue"); ok && tc.fn == "proxy_enqueue_shared_queue" {
					if _, st := e.shared.dequeue(config, id); st != statusEmpty {
						t.Error("item enqueued by a failed call")
					}
				}
				if ms := p.Metrics(); len(ms) != 0 && tc.fn == "proxy_define_metric" {
					t.Errorf("metrics defined by a failed call: %v", ms)
				}
				if n := p.Crashes(); n != 0 {
					t.Errorf("Crashes() = %d, want 0: a bad pointer is the guest's error, not a reason to discard", n)
				}
				if n := p.Instances(); n != 1 {
					t.Errorf("Instances() = %d, want 1", n)
				}
			})
		}
	}
	t.Run("none", func(t *testing.T) {
		p, err := e.NewPlugin(ctx, m, PluginConfig{Name: "wild", Config: []byte("none"), Limits: Limits{Instances: 1}})
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
		if _, err := s.RequestHeaders(ctx, true); err != nil {
			t.Fatal(err)
		}
		if header(h.req, "x-wild") != "1" || header(h.req, "x-status") != "" {
			t.Errorf("request headers %v, want x-wild: 1 and no x-status", *h.req)
		}
	})
	for _, config := range []string{"proxy_log:nope", "proxy_nope:oob", "proxy_set_tick_period_milliseconds:oob", ""} {
		t.Run("refused "+config, func(t *testing.T) {
			p, err := e.NewPlugin(ctx, m, PluginConfig{Name: "wild", Config: []byte(config), Limits: Limits{Instances: 1}})
			if KindOf(err) != Refused {
				if err == nil {
					p.Close(ctx)
				}
				t.Fatalf("NewPlugin: %v, want Refused", err)
			}
		})
	}
}
