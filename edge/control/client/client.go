// Package client is a Go client for a Wedge node's admin API (v1): the
// operator's tenants, domains and tokens, a tenant's filters, upstream
// pools, routes and cache, and the node's status.
//
// Every method takes a context, which bounds the request. A non-2xx
// answer is returned as an *APIError carrying the server's message and,
// for a rejected document, every problem with its field path. Writes take
// CallOptions: IfMatch makes a write conditional on an object's revision,
// and Capture records the answer's status, ETag and X-Wedge-Revision.
//
// The types mirror the API's JSON (snake_case fields, durations as
// strings such as "100ms"); the package does not depend on the node's
// configuration packages.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 1 << 20

// Client talks to one node's admin API. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	tls   *tls.Config
	agent string
}

// Option configures a Client made by New.
type Option func(*Client)

// WithHTTPClient sends requests with hc instead of a client of its own.
// hc is not changed, except as WithTLSConfig says.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithTLSConfig sets the TLS configuration for an https base URL (a
// private CA in RootCAs, or a client certificate). With WithHTTPClient
// too, that client is copied and its transport, which must be nil or an
// *http.Transport, is cloned with this configuration; the caller's client
// and transport are left as they are.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *Client) { c.tls = cfg }
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.agent = ua }
}

// New returns a client of the admin API at baseURL ("http://127.0.0.1:9901";
// a bare host:port means http), authenticating with token (the operator's
// or a tenant's; "" sends no Authorization header, which is enough for
// Health, Ready, Status and OpenAPI).
func New(baseURL, token string, opts ...Option) (*Client, error) {
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: admin URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: admin URL %q: want http(s)://host:port", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: admin URL %q: no query or fragment allowed", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, token: token, agent: "wedge-client"}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.tls != nil {
		var tr *http.Transport
		switch t := c.hc.Transport.(type) {
		case nil:
			tr = http.DefaultTransport.(*http.Transport).Clone()
		case *http.Transport:
			tr = t.Clone()
		default:
			return nil, fmt.Errorf("client: WithTLSConfig needs an *http.Transport, the HTTP client has a %T", t)
		}
		tr.TLSClientConfig = c.tls.Clone()
		hc := *c.hc
		hc.Transport = tr
		c.hc = &hc
	}
	return c, nil
}

// BaseURL returns the admin API's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// CallOption adjusts one call.
type CallOption func(*call)

type call struct {
	ifMatch  string
	response *Response
}

// IfMatch makes a write conditional: the server answers 409 (an *APIError
// whose Revision is the object's current revision) if the object's
// revision is not rev. Without it, the last writer wins.
func IfMatch(rev int64) CallOption {
	return func(c *call) { c.ifMatch = `"` + strconv.FormatInt(rev, 10) + `"` }
}

// Capture stores what the server answered, besides the body, in r: the
// status, the object's ETag revision and the write's X-Wedge-Revision. r
// is filled for successful calls only.
func Capture(r *Response) CallOption {
	return func(c *call) { c.response = r }
}

// Response is what a call answered besides its body. See Capture.
type Response struct {
	// Status is the HTTP status: 201 for a write that created an object,
	// 200 for one that replaced it or found nothing to change.
	Status int
	// ETag is the revision of the single object answered (its ETag), or 0.
	ETag int64
	// Revision is the store revision the write committed at
	// (X-Wedge-Revision), or 0 when nothing was written. GET /v1/status
	// tells when a node serves it.
	Revision int64
}

// Created reports whether the write created its object (201).
func (r *Response) Created() bool { return r.Status == http.StatusCreated }

// APIError is a non-2xx answer of the admin API.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Message is the server's one-line message (its "error" field), or
	// the start of a body that is not the API's JSON.
	Message string
	// Problems lists every problem of a rejected document, each as
	// "field.path: message (line N)".
	Problems []string
	// Revision is, for a 409 caused by a stale If-Match, the object's
	// current revision.
	Revision int64
}

// Error returns the status, the message and each problem on a line of
// its own.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "client: %d %s", e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p)
	}
	return b.String()
}

// errorBody is the API's error answer.
type errorBody struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems"`
	Revision int64    `json:"revision"`
}

// newAPIError builds the error of a non-2xx answer from its body.
func newAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		e.Message, e.Problems, e.Revision = eb.Error, eb.Problems, eb.Revision
		return e
	}
	// Not the API's JSON: a proxy's page, or a plain-text answer.
	msg := strings.TrimSpace(string(body))
	if line, _, cut := strings.Cut(msg, "\n"); cut {
		msg = line + " …"
	}
	if len(msg) > 200 {
		msg = msg[:200] + " …"
	}
	e.Message = strings.ToValidUTF8(msg, "?")
	return e
}

// endpoint is the URL of the path made of segments, each escaped, after
// the base URL's path.
func (c *Client) endpoint(segments ...string) string {
	u := *c.base
	var raw strings.Builder
	raw.WriteString(u.Path)
	for _, s := range segments {
		raw.WriteByte('/')
		raw.WriteString(url.PathEscape(s))
	}
	u.Path, u.RawPath = "", ""
	return u.String() + raw.String()
}

// request is one API call.
type request struct {
	method      string
	path        []string // segments, escaped one by one
	body        []byte   // nil: no body
	contentType string
	opts        []CallOption
	// ok lists the statuses that are not errors besides 2xx.
	ok []int
}

// do sends r and decodes a JSON answer into out (when out is non-nil and
// the answer has a body). It returns the status.
func (c *Client) do(ctx context.Context, r request, out any) (int, error) {
	var cl call
	for _, o := range r.opts {
		o(&cl)
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.endpoint(r.path...), body)
	if err != nil {
		return 0, fmt.Errorf("client: %w", err)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.agent != "" {
		req.Header.Set("User-Agent", c.agent)
	}
	if cl.ifMatch != "" {
		req.Header.Set("If-Match", cl.ifMatch)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("client: %s %s: %w", r.method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	good := resp.StatusCode >= 200 && resp.StatusCode < 300
	for _, s := range r.ok {
		good = good || resp.StatusCode == s
	}
	if !good {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return resp.StatusCode, newAPIError(resp.StatusCode, b)
	}
	if cl.response != nil {
		*cl.response = Response{
			Status:   resp.StatusCode,
			ETag:     parseRevision(resp.Header.Get("ETag")),
			Revision: parseRevision(resp.Header.Get("X-Wedge-Revision")),
		}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return resp.StatusCode, nil
	}
	if raw, ok := out.(*[]byte); ok {
		if *raw, err = io.ReadAll(resp.Body); err != nil {
			return resp.StatusCode, fmt.Errorf("client: %s %s: reading the answer: %w", r.method, req.URL.Path, err)
		}
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("client: %s %s: decoding the answer (%d): %w", r.method, req.URL.Path, resp.StatusCode, err)
	}
	return resp.StatusCode, nil
}

// parseRevision reads a revision header: 12, "12" or W/"12". Anything
// else is 0.
func parseRevision(h string) int64 {
	h = strings.Trim(strings.TrimPrefix(strings.TrimSpace(h), "W/"), `"`)
	n, err := strconv.ParseInt(h, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// jsonBody encodes v as a request body.
func jsonBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("client: encoding the request: %w", err)
	}
	return b, nil
}

// IsStatus reports whether err is an *APIError with the given status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}
