package runtime

// BodyLimit is the most body bytes the host holds for one of the plugin's
// streams: the limit a paused filter's buffered body counts against.
func (p *Plugin) BodyLimit() int { return p.limits.BodyBytes }

// SeesRequestBody reports whether the plugin's module has a callback for
// the request body or its trailers (proxy_on_request_body,
// proxy_on_request_trailers): without one, a filter can neither read nor
// change the body, which the edge then streams untouched.
func (p *Plugin) SeesRequestBody() bool { return p.m.reqBody }
