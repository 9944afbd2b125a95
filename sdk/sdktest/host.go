// Package sdktest runs a filter written with package sdk natively, under
// plain go test, against a fake Proxy-Wasm host that records what the
// filter does.
//
//	func TestFilter(t *testing.T) {
//		h := sdktest.NewHost(t)
//		p, err := h.NewPlugin(newPlugin, `{"request":{"set":{"x-a":"1"}}}`)
//		if err != nil {
//			t.Fatal(err)
//		}
//		s := p.NewStream()
//		if got := s.SendRequestHeaders(sdktest.Headers(":path", "/"), true); got != sdk.Continue {
//			t.Fatalf("action = %v", got)
//		}
//		// inspect s.RequestHeaders(), s.LocalResponse(), h.Logs(), h.HTTPCalls() ...
//	}
//
// The SDK keeps its state in package variables, as a wasm module does, so
// one Host runs at a time in a test binary: NewHost waits until the
// previous Host's test has finished (parallel tests take turns).
//
// The fake host follows the Proxy-Wasm 0.2.1 specification and Envoy where
// the specification is silent: header names are stored in lower case, a
// header lookup returns the first value, shared data has compare-and-swap
// tokens, and HTTP calls need :method, :path and :authority. It does not
// enforce which callback may touch which header map or buffer.
package sdktest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// running serializes Hosts: the SDK under test is one set of globals.
var running sync.Mutex

// Host is a fake Proxy-Wasm host for one test.
type Host struct {
	t        testing.TB
	nextID   uint32
	current  uint32
	plugins  map[uint32]*Plugin
	streams  map[uint32]*Stream
	logLevel sdk.LogLevel
	logs     []LogEntry
	now      time.Time
	props    map[string][]byte

	shared  map[string]sharedValue
	nextCAS uint32

	queues      map[uint32]*queue
	queueByName map[string]uint32

	metrics      map[uint32]*metric
	metricByName map[string]uint32

	calls      []*HTTPCall
	nextCallID uint32
	// callResp is the HTTP call answer being delivered, readable through
	// the HTTP_CALL_RESPONSE_* maps and buffer.
	callResp *HTTPCallResponse
	// config is the plugin configuration being delivered.
	config []byte
}

// LogEntry is one message the filter logged.
type LogEntry struct {
	Level   sdk.LogLevel
	Message string
}

type sharedValue struct {
	value []byte
	cas   uint32
}

type queue struct {
	name  string
	owner uint32 // the plugin context that registered it
	items [][]byte
}

type metric struct {
	name  string
	kind  abi.MetricType
	value uint64
}

// NewHost installs a fake host for the test t and removes it when t ends.
// Messages the filter logs are also written to t's log.
func NewHost(t testing.TB) *Host {
	running.Lock()
	h := &Host{
		t:            t,
		plugins:      map[uint32]*Plugin{},
		streams:      map[uint32]*Stream{},
		props:        map[string][]byte{},
		shared:       map[string]sharedValue{},
		queues:       map[uint32]*queue{},
		queueByName:  map[string]uint32{},
		metrics:      map[uint32]*metric{},
		metricByName: map[string]uint32{},
	}
	abi.Callbacks.Reset()
	abi.Current = (*fake)(h)
	t.Cleanup(func() {
		abi.Current = nil
		abi.Callbacks.Reset()
		running.Unlock()
	})
	return h
}

// Headers makes header fields from name, value pairs:
// Headers(":path", "/", "x-a", "1"). It panics on an odd count.
func Headers(nameValues ...string) []sdk.Header {
	if len(nameValues)%2 != 0 {
		panic("sdktest: Headers needs name, value pairs")
	}
	out := make([]sdk.Header, 0, len(nameValues)/2)
	for i := 0; i < len(nameValues); i += 2 {
		out = append(out, sdk.Header{Name: nameValues[i], Value: nameValues[i+1]})
	}
	return out
}

// Logs returns every message logged so far, oldest first.
func (h *Host) Logs() []LogEntry { return append([]LogEntry(nil), h.logs...) }

// Logged reports whether the filter logged, at level, a message
// containing substr.
func (h *Host) Logged(level sdk.LogLevel, substr string) bool {
	for _, e := range h.logs {
		if e.Level == level && strings.Contains(e.Message, substr) {
			return true
		}
	}
	return false
}

// SetLogLevel sets the lowest level the host keeps (default: trace, all).
func (h *Host) SetLogLevel(l sdk.LogLevel) { h.logLevel = l }

// SetNow fixes the time the host reports (default: the real clock).
func (h *Host) SetNow(t time.Time) { h.now = t }

// SetProperty sets a host-wide property, visible from every context unless
// a stream sets its own (Stream.SetProperty).
func (h *Host) SetProperty(value []byte, path ...string) {
	h.props[strings.Join(path, "\x00")] = clone(value)
}

// SharedData returns the shared value under key, its compare-and-swap
// token, and whether it exists.
func (h *Host) SharedData(key string) (value []byte, cas uint32, ok bool) {
	v, ok := h.shared[key]
	return clone(v.value), v.cas, ok
}

// SetSharedData stores value under key, as another instance of the module
// would.
func (h *Host) SetSharedData(key string, value []byte) {
	h.nextCAS++
	h.shared[key] = sharedValue{clone(value), h.nextCAS}
}

// Metric returns the value of the metric name (for a histogram, the last
// value recorded) and whether the filter defined it.
func (h *Host) Metric(name string) (uint64, bool) {
	id, ok := h.metricByName[name]
	if !ok {
		return 0, false
	}
	return h.metrics[id].value, true
}

// Queue returns the items waiting in the shared queue name.
func (h *Host) Queue(name string) [][]byte {
	id, ok := h.queueByName[name]
	if !ok {
		return nil
	}
	return append([][]byte(nil), h.queues[id].items...)
}

// Enqueue adds item to the shared queue name, as another instance of the
// module would, and tells the plugin that registered it (OnQueueReady).
func (h *Host) Enqueue(name string, item []byte) error {
	id, ok := h.queueByName[name]
	if !ok {
		return fmt.Errorf("sdktest: enqueue: no queue %q is registered", name)
	}
	q := h.queues[id]
	q.items = append(q.items, clone(item))
	if _, ok := h.plugins[q.owner]; ok {
		h.current = q.owner
		abi.Callbacks.OnQueueReady(q.owner, id)
	}
	return nil
}

// HTTPCalls returns the HTTP calls made and not yet answered, oldest first.
func (h *Host) HTTPCalls() []*HTTPCall {
	var out []*HTTPCall
	for _, c := range h.calls {
		if !c.answered {
			out = append(out, c)
		}
	}
	return out
}

// NewPlugin creates a plugin context and configures it with factory and
// config, as the host does when a route's filter starts. When the factory
// refuses the configuration the error holds what the filter logged at
// error level.
func (h *Host) NewPlugin(factory sdk.PluginFactory, config string) (*Plugin, error) {
	sdk.Register(factory)
	h.nextID++
	p := &Plugin{h: h, id: h.nextID}
	h.plugins[p.id] = p
	h.current = p.id
	abi.Callbacks.OnContextCreate(p.id, 0)
	h.current = p.id
	if !abi.Callbacks.OnVMStart(p.id, 0) {
		return nil, errors.New("sdktest: proxy_on_vm_start returned false")
	}
	before := len(h.logs)
	h.config = []byte(config)
	h.current = p.id
	ok := abi.Callbacks.OnConfigure(p.id, uint32(len(config)))
	h.config = nil
	if !ok {
		var msgs []string
		for _, e := range h.logs[before:] {
			if e.Level >= sdk.LevelError {
				msgs = append(msgs, e.Message)
			}
		}
		delete(h.plugins, p.id)
		return nil, fmt.Errorf("sdktest: proxy_on_configure returned false: %s", strings.Join(msgs, "; "))
	}
	return p, nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func cloneHeaders(hs []sdk.Header) []sdk.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]sdk.Header, len(hs))
	for i, f := range hs {
		out[i] = sdk.Header{Name: strings.ToLower(f.Name), Value: f.Value}
	}
	return out
}
