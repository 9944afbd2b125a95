// Command headers is a Wedge filter that adds, sets and removes request
// and response headers, as its configuration says. See README.md.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o headers.wasm .
package main

import "github.com/wedgeproxy/wedge/sdk"

// init registers the plugin: main does not run in a c-shared wasm module.
func init() { sdk.Register(newPlugin) }

func main() {}

// plugin is a configured headers filter. It holds no per-stream state, so
// it is also the filter of every stream.
type plugin struct {
	sdk.DefaultFilter
	request, response ops
}

func newPlugin(cfg sdk.PluginConfig) (sdk.Plugin, error) {
	var c config
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	p := &plugin{}
	if err := c.compile(&p.request, &p.response); err != nil {
		return nil, err
	}
	return p, nil
}

// NewFilter returns the plugin itself: the filter is stateless.
func (p *plugin) NewFilter() sdk.Filter { return p }

// OnRequestHeaders edits the request headers.
func (p *plugin) OnRequestHeaders(s *sdk.Stream, _ bool) sdk.Action {
	p.request.apply(s.RequestHeaders(), "request")
	return sdk.Continue
}

// OnResponseHeaders edits the response headers.
func (p *plugin) OnResponseHeaders(s *sdk.Stream, _ bool) sdk.Action {
	p.response.apply(s.ResponseHeaders(), "response")
	return sdk.Continue
}

// apply runs the operations on h: removals, then sets, then adds. A host
// that refuses one is logged and the rest still run.
func (o *ops) apply(h sdk.HeaderMap, side string) {
	for _, name := range o.remove {
		if err := h.Remove(name); err != nil {
			sdk.Warnf("headers: %s: remove %s: %v", side, name, err)
		}
	}
	for _, f := range o.set {
		if err := h.Set(f.Name, f.Value); err != nil {
			sdk.Warnf("headers: %s: set %s: %v", side, f.Name, err)
		}
	}
	for _, f := range o.add {
		if err := h.Add(f.Name, f.Value); err != nil {
			sdk.Warnf("headers: %s: add %s: %v", side, f.Name, err)
		}
	}
}
