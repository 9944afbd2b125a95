package runtime

// BodyLimit is the most body bytes the host holds for one of the plugin's
// streams: the limit a paused filter's buffered body counts against.
func (p *Plugin) BodyLimit() int { return p.limits.BodyBytes }

// Exports reports whether the plugin's module exports the function name
// (a Proxy-Wasm callback such as "proxy_on_request_body"). The edge asks
// once per plugin, when a snapshot is built.
func (p *Plugin) Exports(name string) bool {
	_, ok := p.m.cm.ExportedFunctions()[name]
	return ok
}
