package sdk_test

import (
	"slices"
	"testing"

	"github.com/wedgeproxy/wedge/sdk"
	"github.com/wedgeproxy/wedge/sdk/sdktest"
)

// setFilter sets x-seen on every request.
type setFilter struct{ sdk.DefaultFilter }

func (f *setFilter) NewFilter() sdk.Filter { return f }

func (f *setFilter) OnRequestHeaders(s *sdk.Stream, _ bool) sdk.Action {
	if err := s.RequestHeaders().Set("x-seen", "1"); err != nil {
		sdk.Errorf("set: %v", err)
	}
	return sdk.Continue
}

func TestSmoke(t *testing.T) {
	h := sdktest.NewHost(t)
	p, err := h.NewPlugin(func(sdk.PluginConfig) (sdk.Plugin, error) { return &setFilter{}, nil }, "")
	if err != nil {
		t.Fatal(err)
	}
	s := p.NewStream()
	if a := s.SendRequestHeaders(sdktest.Headers(":path", "/"), true); a != sdk.Continue {
		t.Fatalf("action %v", a)
	}
	want := sdktest.Headers(":path", "/", "x-seen", "1")
	if got := s.RequestHeaders(); !slices.Equal(got, want) {
		t.Fatalf("headers %v, want %v", got, want)
	}
}
