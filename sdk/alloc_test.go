package sdk

import (
	"testing"

	"github.com/wedgeproxy/wedge/sdk/internal/abi"
)

// quietHost answers the header calls a header filter makes without
// allocating, so that what allocates is the SDK. Other calls panic (nil
// embedded interface).
type quietHost struct {
	abi.Host
	value []byte
}

func (quietHost) SetEffectiveContext(uint32) abi.Status                        { return abi.StatusOK }
func (quietHost) ReplaceHeaderMapValue(abi.MapType, string, string) abi.Status { return abi.StatusOK }
func (quietHost) AddHeaderMapValue(abi.MapType, string, string) abi.Status     { return abi.StatusOK }
func (quietHost) RemoveHeaderMapValue(abi.MapType, string) abi.Status          { return abi.StatusOK }
func (q quietHost) GetHeaderMapValue(abi.MapType, string) ([]byte, abi.Status) {
	return q.value, abi.StatusOK
}

// headerOps is a stateless filter doing what the headers filter does.
type headerOps struct{ DefaultFilter }

func (f *headerOps) NewFilter() Filter { return f }

func (f *headerOps) OnRequestHeaders(s *Stream, _ bool) Action {
	h := s.RequestHeaders()
	_ = h.Set("x-set", "1")
	_ = h.Add("x-add", "2")
	_ = h.Remove("x-remove")
	if v, ok := h.Get("x-get"); !ok || v != "v" {
		panic("Get")
	}
	return Continue
}

// withQuietHost runs a configured root (1) and stream (2) of headerOps.
func withQuietHost(tb testing.TB) dispatcher {
	prev := abi.Current
	abi.Current = quietHost{value: []byte("v")}
	d := dispatcher{}
	d.Reset()
	tb.Cleanup(func() { d.Reset(); abi.Current = prev })
	roots[1] = &rootContext{id: 1, plugin: &headerOps{}}
	d.OnContextCreate(2, 1)
	return d
}

// TestRequestHeadersHotPathAllocs pins the SDK's share of a header
// filter's request: set, add, remove and a get whose value the host
// already allocated cost nothing more.
func TestRequestHeadersHotPathAllocs(t *testing.T) {
	d := withQuietHost(t)
	if n := testing.AllocsPerRun(100, func() { d.OnRequestHeaders(2, 3, true) }); n != 0 {
		t.Errorf("OnRequestHeaders allocates %v times, want 0", n)
	}
}

// TestStreamLifecycleAllocs bounds a stream's creation and deletion: the
// Stream itself, and nothing per request beyond it.
func TestStreamLifecycleAllocs(t *testing.T) {
	d := withQuietHost(t)
	id := uint32(10)
	n := testing.AllocsPerRun(100, func() {
		id++
		d.OnContextCreate(id, 1)
		d.OnRequestHeaders(id, 3, true)
		d.OnDone(id)
		d.OnLog(id)
		d.OnDelete(id)
	})
	if n > 1 {
		t.Errorf("a stream's life allocates %v times, want at most 1 (the Stream)", n)
	}
}

func BenchmarkOnRequestHeaders(b *testing.B) {
	d := withQuietHost(b)
	b.ReportAllocs()
	for b.Loop() {
		d.OnRequestHeaders(2, 3, true)
	}
}
