package sdk_test

import (
	"testing"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/sdktest"
)

// Events hookFilter reports.
const (
	evReqHeaders   = "request headers"
	evReqBody      = "request body"
	evReqTrailers  = "request trailers"
	evRespHeaders  = "response headers"
	evRespBody     = "response body"
	evRespTrailers = "response trailers"
	evDone         = "done"
)

// hookFilter routes every callback to on; a nil on continues.
type hookFilter struct {
	on func(ev string, s *sdk.Stream, size int, eos bool) sdk.Action
}

func (f *hookFilter) call(ev string, s *sdk.Stream, size int, eos bool) sdk.Action {
	if f.on == nil {
		return sdk.Continue
	}
	return f.on(ev, s, size, eos)
}

func (f *hookFilter) OnRequestHeaders(s *sdk.Stream, eos bool) sdk.Action {
	return f.call(evReqHeaders, s, 0, eos)
}

func (f *hookFilter) OnRequestBody(s *sdk.Stream, n int, eos bool) sdk.Action {
	return f.call(evReqBody, s, n, eos)
}

func (f *hookFilter) OnRequestTrailers(s *sdk.Stream) sdk.Action {
	return f.call(evReqTrailers, s, 0, false)
}

func (f *hookFilter) OnResponseHeaders(s *sdk.Stream, eos bool) sdk.Action {
	return f.call(evRespHeaders, s, 0, eos)
}

func (f *hookFilter) OnResponseBody(s *sdk.Stream, n int, eos bool) sdk.Action {
	return f.call(evRespBody, s, n, eos)
}

func (f *hookFilter) OnResponseTrailers(s *sdk.Stream) sdk.Action {
	return f.call(evRespTrailers, s, 0, false)
}

func (f *hookFilter) OnDone(s *sdk.Stream) { f.call(evDone, s, 0, false) }

// hookPlugin gives every stream the same hookFilter, and routes plugin
// callbacks to tick and queue.
type hookPlugin struct {
	f     *hookFilter
	tick  func()
	queue func(q sdk.Queue)
}

func (p *hookPlugin) NewFilter() sdk.Filter { return p.f }

func (p *hookPlugin) OnTick() {
	if p.tick != nil {
		p.tick()
	}
}

func (p *hookPlugin) OnQueueReady(q sdk.Queue) {
	if p.queue != nil {
		p.queue(q)
	}
}

// start configures a plugin running on for every stream, and starts a
// stream.
func start(t *testing.T, on func(ev string, s *sdk.Stream, size int, eos bool) sdk.Action) (*sdktest.Host, *sdktest.Plugin, *sdktest.Stream) {
	t.Helper()
	return startPlugin(t, &hookPlugin{f: &hookFilter{on: on}})
}

func startPlugin(t *testing.T, hp *hookPlugin) (*sdktest.Host, *sdktest.Plugin, *sdktest.Stream) {
	t.Helper()
	h := sdktest.NewHost(t)
	p, err := h.NewPlugin(func(sdk.PluginConfig) (sdk.Plugin, error) { return hp, nil }, "")
	if err != nil {
		t.Fatal(err)
	}
	return h, p, p.NewStream()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
