package client

import (
	"context"
	"errors"
)

// Filters lists the tenant's filters (GET /v1/tenants/{tenant}/filters).
func (c *Client) Filters(ctx context.Context, tenant string) ([]Filter, error) {
	var out struct {
		Filters []Filter `json:"filters"`
	}
	if _, err := c.do(ctx, request{method: "GET", path: tenantPath(tenant, "filters")}, &out); err != nil {
		return nil, err
	}
	return out.Filters, nil
}

// Filter returns one filter and its versions (GET
// /v1/tenants/{tenant}/filters/{name}).
func (c *Client) Filter(ctx context.Context, tenant, name string, opts ...CallOption) (*Filter, error) {
	var f Filter
	if _, err := c.do(ctx, request{method: "GET", path: tenantPath(tenant, "filters", name), opts: opts}, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// PushFilter uploads module, a Proxy-Wasm .wasm module, as the filter's
// new current version (PUT /v1/tenants/{tenant}/filters/{name}). The node
// compiles and starts it before accepting it. Capture tells a new version
// (201) from bytes equal to the current version's (200: nothing changed).
func (c *Client) PushFilter(ctx context.Context, tenant, name string, module []byte, opts ...CallOption) (*Filter, error) {
	if module == nil {
		module = []byte{}
	}
	var f Filter
	if _, err := c.do(ctx, request{method: "PUT", path: tenantPath(tenant, "filters", name), body: module, contentType: "application/wasm", opts: opts}, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// RollbackFilter makes version the filter's current version; version 0
// means the version before the current one (POST
// /v1/tenants/{tenant}/filters/{name}/rollback).
func (c *Client) RollbackFilter(ctx context.Context, tenant, name string, version int, opts ...CallOption) (*Filter, error) {
	if version < 0 {
		return nil, errors.New("client: a filter version is at least 1 (0: the one before the current one)")
	}
	body, err := jsonBody(struct {
		Version int `json:"version,omitempty"`
	}{version})
	if err != nil {
		return nil, err
	}
	var f Filter
	if _, err := c.do(ctx, request{method: "POST", path: tenantPath(tenant, "filters", name, "rollback"), body: body, contentType: "application/json", opts: opts}, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// DeleteFilter deletes the filter and all its versions (DELETE
// /v1/tenants/{tenant}/filters/{name}); a filter a route uses is a 409.
func (c *Client) DeleteFilter(ctx context.Context, tenant, name string, opts ...CallOption) error {
	_, err := c.do(ctx, request{method: "DELETE", path: tenantPath(tenant, "filters", name), opts: opts}, nil)
	return err
}

// Upstreams lists the tenant's upstream pools (GET
// /v1/tenants/{tenant}/upstreams).
func (c *Client) Upstreams(ctx context.Context, tenant string) ([]Upstream, error) {
	var out struct {
		Upstreams []Upstream `json:"upstreams"`
	}
	if _, err := c.do(ctx, request{method: "GET", path: tenantPath(tenant, "upstreams")}, &out); err != nil {
		return nil, err
	}
	return out.Upstreams, nil
}

// Upstream returns one upstream pool (GET
// /v1/tenants/{tenant}/upstreams/{name}).
func (c *Client) Upstream(ctx context.Context, tenant, name string, opts ...CallOption) (*Upstream, error) {
	var u Upstream
	if _, err := c.do(ctx, request{method: "GET", path: tenantPath(tenant, "upstreams", name), opts: opts}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// PutUpstream creates or replaces the pool u.Name (PUT
// /v1/tenants/{tenant}/upstreams/{name}). u.Revision is not sent: use
// IfMatch for a conditional write.
func (c *Client) PutUpstream(ctx context.Context, tenant string, u Upstream, opts ...CallOption) (*Upstream, error) {
	if u.Name == "" {
		return nil, errors.New("client: the upstream has no name")
	}
	body, err := jsonBody(struct {
		Endpoints    []string `json:"endpoints"`
		MaxIdleConns int      `json:"max_idle_conns,omitempty"`
	}{u.Endpoints, u.MaxIdleConns})
	if err != nil {
		return nil, err
	}
	var out Upstream
	if _, err := c.do(ctx, request{method: "PUT", path: tenantPath(tenant, "upstreams", u.Name), body: body, contentType: "application/json", opts: opts}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteUpstream deletes the pool (DELETE
// /v1/tenants/{tenant}/upstreams/{name}); a pool a route or a filter's
// http_upstreams uses is a 409.
func (c *Client) DeleteUpstream(ctx context.Context, tenant, name string, opts ...CallOption) error {
	_, err := c.do(ctx, request{method: "DELETE", path: tenantPath(tenant, "upstreams", name), opts: opts}, nil)
	return err
}

// Routes returns the tenant's route table (GET
// /v1/tenants/{tenant}/routes).
func (c *Client) Routes(ctx context.Context, tenant string, opts ...CallOption) (*RouteTable, error) {
	var rt RouteTable
	if _, err := c.do(ctx, request{method: "GET", path: tenantPath(tenant, "routes"), opts: opts}, &rt); err != nil {
		return nil, err
	}
	return &rt, nil
}

// PutRoutes replaces the tenant's route table with body, a document
// {"routes": [...]} in JSON (contentType "application/json") or YAML
// ("application/yaml"), sent as is: a YAML document's problems come back
// with their lines (PUT /v1/tenants/{tenant}/routes).
func (c *Client) PutRoutes(ctx context.Context, tenant string, body []byte, contentType string, opts ...CallOption) (*RouteTable, error) {
	if contentType == "" {
		return nil, errors.New("client: PutRoutes needs the body's content type")
	}
	if body == nil {
		body = []byte{}
	}
	var rt RouteTable
	if _, err := c.do(ctx, request{method: "PUT", path: tenantPath(tenant, "routes"), body: body, contentType: contentType, opts: opts}, &rt); err != nil {
		return nil, err
	}
	return &rt, nil
}

// TenantConfig returns the tenant's pools and routes together (GET
// /v1/tenants/{tenant}/config).
func (c *Client) TenantConfig(ctx context.Context, tenant string, opts ...CallOption) (*TenantConfig, error) {
	var tc TenantConfig
	if _, err := c.do(ctx, request{method: "GET", path: tenantPath(tenant, "config"), opts: opts}, &tc); err != nil {
		return nil, err
	}
	return &tc, nil
}

// PutTenantConfig replaces the tenant's pools and routes together,
// atomically: pools not listed are deleted (PUT
// /v1/tenants/{tenant}/config). Revisions in cfg are not sent.
func (c *Client) PutTenantConfig(ctx context.Context, tenant string, cfg TenantConfig, opts ...CallOption) (*TenantConfig, error) {
	type pool struct {
		Name         string   `json:"name"`
		Endpoints    []string `json:"endpoints"`
		MaxIdleConns int      `json:"max_idle_conns,omitempty"`
	}
	doc := struct {
		Upstreams []pool  `json:"upstreams"`
		Routes    []Route `json:"routes"`
	}{Upstreams: []pool{}, Routes: cfg.Routes}
	for _, u := range cfg.Upstreams {
		doc.Upstreams = append(doc.Upstreams, pool{u.Name, u.Endpoints, u.MaxIdleConns})
	}
	if doc.Routes == nil {
		doc.Routes = []Route{}
	}
	body, err := jsonBody(doc)
	if err != nil {
		return nil, err
	}
	var out TenantConfig
	if _, err := c.do(ctx, request{method: "PUT", path: tenantPath(tenant, "config"), body: body, contentType: "application/json", opts: opts}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Purge removes the tenant's cache entries that p selects, on every node
// of the fleet (through the store), and returns how many went from the
// node asked (POST /v1/tenants/{tenant}/purge).
func (c *Client) Purge(ctx context.Context, tenant string, p Purge) (int, error) {
	set := 0
	for _, s := range []string{p.URL, p.Host, p.Tag} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return 0, errors.New("client: purge needs exactly one of URL, Host and Tag")
	}
	body, err := jsonBody(p)
	if err != nil {
		return 0, err
	}
	var out struct {
		Purged int `json:"purged"`
	}
	if _, err := c.do(ctx, request{method: "POST", path: tenantPath(tenant, "purge"), body: body, contentType: "application/json"}, &out); err != nil {
		return 0, err
	}
	return out.Purged, nil
}
