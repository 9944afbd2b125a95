package client

import "context"

// Tenants lists every tenant (GET /v1/tenants; operator).
func (c *Client) Tenants(ctx context.Context) ([]Tenant, error) {
	var out struct {
		Tenants []Tenant `json:"tenants"`
	}
	if _, err := c.do(ctx, request{method: "GET", path: []string{"v1", "tenants"}}, &out); err != nil {
		return nil, err
	}
	return out.Tenants, nil
}

// Tenant returns one tenant (GET /v1/tenants/{tenant}; operator, or the
// tenant's own token).
func (c *Client) Tenant(ctx context.Context, tenant string, opts ...CallOption) (*Tenant, error) {
	var t Tenant
	if _, err := c.do(ctx, request{method: "GET", path: tenantPath(tenant), opts: opts}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// PutTenant creates the tenant or replaces its limits (PUT
// /v1/tenants/{tenant}; operator). Capture tells created (201) from
// updated (200).
func (c *Client) PutTenant(ctx context.Context, tenant string, limits Limits, opts ...CallOption) (*Tenant, error) {
	body, err := jsonBody(struct {
		Limits Limits `json:"limits"`
	}{limits})
	if err != nil {
		return nil, err
	}
	var t Tenant
	if _, err := c.do(ctx, request{method: "PUT", path: tenantPath(tenant), body: body, contentType: "application/json", opts: opts}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// DeleteTenant deletes the tenant with its domains, tokens, filters,
// pools and routes (DELETE /v1/tenants/{tenant}; operator).
func (c *Client) DeleteTenant(ctx context.Context, tenant string, opts ...CallOption) error {
	_, err := c.do(ctx, request{method: "DELETE", path: tenantPath(tenant), opts: opts}, nil)
	return err
}

// Domains lists the tenant's domains (GET /v1/tenants/{tenant}/domains;
// operator).
func (c *Client) Domains(ctx context.Context, tenant string) ([]Domain, error) {
	var out struct {
		Domains []Domain `json:"domains"`
	}
	if _, err := c.do(ctx, request{method: "GET", path: tenantPath(tenant, "domains")}, &out); err != nil {
		return nil, err
	}
	return out.Domains, nil
}

// AddDomain assigns domain to the tenant (PUT
// /v1/tenants/{tenant}/domains/{domain}; operator). Capture tells a new
// assignment (201) from a domain that already was the tenant's (200);
// another tenant's domain is a 409.
func (c *Client) AddDomain(ctx context.Context, tenant, domain string, opts ...CallOption) (*Domain, error) {
	var d Domain
	if _, err := c.do(ctx, request{method: "PUT", path: tenantPath(tenant, "domains", domain), opts: opts}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// RemoveDomain takes domain from the tenant (DELETE
// /v1/tenants/{tenant}/domains/{domain}; operator). A route whose
// match.domains names it makes this a 400.
func (c *Client) RemoveDomain(ctx context.Context, tenant, domain string, opts ...CallOption) error {
	_, err := c.do(ctx, request{method: "DELETE", path: tenantPath(tenant, "domains", domain), opts: opts}, nil)
	return err
}

// CreateToken makes a token for the tenant (POST
// /v1/tenants/{tenant}/tokens; operator). The answer's Token field is the
// secret, shown only this once.
func (c *Client) CreateToken(ctx context.Context, tenant, description string, opts ...CallOption) (*Token, error) {
	body, err := jsonBody(struct {
		Description string `json:"description,omitempty"`
	}{description})
	if err != nil {
		return nil, err
	}
	var t Token
	if _, err := c.do(ctx, request{method: "POST", path: tenantPath(tenant, "tokens"), body: body, contentType: "application/json", opts: opts}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// ListTokens lists the tenant's tokens, without their secrets (GET
// /v1/tenants/{tenant}/tokens; operator).
func (c *Client) ListTokens(ctx context.Context, tenant string) ([]Token, error) {
	var out struct {
		Tokens []Token `json:"tokens"`
	}
	if _, err := c.do(ctx, request{method: "GET", path: tenantPath(tenant, "tokens")}, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// RevokeToken revokes the tenant's token id (DELETE
// /v1/tenants/{tenant}/tokens/{id}; operator).
func (c *Client) RevokeToken(ctx context.Context, tenant, id string, opts ...CallOption) error {
	_, err := c.do(ctx, request{method: "DELETE", path: tenantPath(tenant, "tokens", id), opts: opts}, nil)
	return err
}

// tenantPath is the path segments of /v1/tenants/{tenant}/more….
func tenantPath(tenant string, more ...string) []string {
	return append([]string{"v1", "tenants", tenant}, more...)
}
