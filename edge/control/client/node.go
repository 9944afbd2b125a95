package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Health checks that the node answers (GET /healthz).
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, request{method: "GET", path: []string{"healthz"}}, nil)
	return err
}

// Ready reports whether the node serves its first snapshot (GET /readyz).
// A node that is not ready answers 503, returned as a Readiness with
// Ready false and no error.
func (c *Client) Ready(ctx context.Context) (*Readiness, error) {
	var raw []byte
	status, err := c.do(ctx, request{method: "GET", path: []string{"readyz"}, ok: []int{http.StatusServiceUnavailable}}, &raw)
	if err != nil {
		return nil, err
	}
	var r Readiness
	if err := json.Unmarshal(raw, &r); err != nil {
		if status != http.StatusOK {
			return nil, newAPIError(status, raw)
		}
		return nil, fmt.Errorf("client: GET /readyz: decoding the answer: %w", err)
	}
	return &r, nil
}

// Status returns the revision the node serves, its store's health and
// its last error (GET /v1/status; any token: a tenant's sees only the
// part of the error about that tenant).
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if _, err := c.do(ctx, request{method: "GET", path: []string{"v1", "status"}}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Nodes returns the revision each node serves, as the nodes recorded it
// in the store (GET /v1/nodes; operator).
func (c *Client) Nodes(ctx context.Context) ([]NodeStatus, error) {
	var out struct {
		Nodes []NodeStatus `json:"nodes"`
	}
	if _, err := c.do(ctx, request{method: "GET", path: []string{"v1", "nodes"}}, &out); err != nil {
		return nil, err
	}
	return out.Nodes, nil
}

// OpenAPI returns the API's OpenAPI 3.1 document (GET /v1/openapi.json).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	var raw []byte
	if _, err := c.do(ctx, request{method: "GET", path: []string{"v1", "openapi.json"}}, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}
