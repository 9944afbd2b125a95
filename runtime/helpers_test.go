package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testHost is a StreamHost over plain pairs, for tests.
type testHost struct {
	req, reqTr, resp, respT *Pairs
	props                   map[string]string // path segments joined by "."
}

func newTestHost(req ...[2]string) *testHost {
	r := Pairs(req)
	return &testHost{req: &r, props: map[string]string{}}
}

func (h *testHost) HeaderMap(k HeaderKind) HeaderMap {
	var p *Pairs
	switch k {
	case RequestHeaders:
		p = h.req
	case RequestTrailers:
		p = h.reqTr
	case ResponseHeaders:
		p = h.resp
	case ResponseTrailers:
		p = h.respT
	}
	if p == nil {
		return nil
	}
	return p
}

func (h *testHost) Property(path []string) ([]byte, bool) {
	v, ok := h.props[strings.Join(path, ".")]
	return []byte(v), ok
}

// setResponse gives the host response headers.
func (h *testHost) setResponse(hdrs ...[2]string) {
	p := Pairs(hdrs)
	h.resp = &p
}

// newTestEngine starts an engine closed when the test ends.
func newTestEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := NewEngine(context.Background(), Config{CacheDir: testCacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

// testCacheDir is a compilation cache shared by the tests of every run
// on the machine, so each test does not recompile the Go filters.
var testCacheDir = filepath.Join(os.TempDir(), "wedge-test-wasm-cache")

// readBuilt reads a module built by make (bin/wat or bin/filters).
func readBuilt(t testing.TB, dir, name string) []byte {
	t.Helper()
	path := filepath.Join("..", "bin", dir, name+".wasm")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (build it with `make %s`)", err, map[string]string{"wat": "wat", "filters": "filters"}[dir])
	}
	return b
}

// startPlugin compiles bin/<dir>/<name>.wasm and starts a plugin with cfg.
func startPlugin(t testing.TB, e *Engine, dir, name string, cfg PluginConfig) *Plugin {
	t.Helper()
	m, err := e.Compile(context.Background(), readBuilt(t, dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	if cfg.Name == "" {
		cfg.Name = name
	}
	p, err := e.NewPlugin(context.Background(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// header returns the first value of key in p, or "".
func header(p *Pairs, key string) string {
	if p == nil {
		return ""
	}
	v, _ := p.Get(key)
	return v
}
