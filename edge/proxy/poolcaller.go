package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wedgeproxy/wedge/edge/upstream"
	"github.com/wedgeproxy/wedge/runtime"
)

// maxCallResponse bounds the body of a filter's HTTP call response.
const maxCallResponse = 1 << 20

// poolCaller serves a filter's proxy_http_call with the tenant's pools
// the filter is allowed to call.
type poolCaller struct {
	tenant  string
	allowed []string
	srv     *Server
	timeout time.Duration
	// snap is the snapshot whose pools the calls use: the one the
	// calling request holds. nil (calls from a root context, outside any
	// request): the current snapshot.
	snap *Snapshot
}

// HTTPCaller makes the calls of a request's streams go over the pools of
// the snapshot the request holds, not the newest: a request is served on
// one snapshot from start to end (runtime.StreamCaller).
func (h *streamHost) HTTPCaller(base runtime.HTTPCaller) runtime.HTTPCaller {
	pc, ok := base.(*poolCaller)
	if !ok || h.snap == nil {
		return base
	}
	bound := *pc
	bound.snap = h.snap
	return &bound
}

func (p *poolCaller) Allowed(name string) bool { return slices.Contains(p.allowed, name) }

func (p *poolCaller) Call(ctx context.Context, name string, req *runtime.HTTPRequest) (res *runtime.HTTPResponse, err error) {
	// The runtime calls this on a goroutine of its own: a panic here (a
	// Wedge bug) fails the call, never the process.
	defer func() {
		if r := recover(); r != nil {
			recoverLog(p.srv.log, "a filter's HTTP call", r)
			res, err = nil, fmt.Errorf("proxy: http call to %q failed inside the edge", name)
		}
	}()
	snap := p.snap
	if snap == nil {
		snap = p.srv.snap.Load()
	}
	pool := snap.pools[poolKey{p.tenant, name}]
	if pool == nil {
		return nil, fmt.Errorf("proxy: pool %q is not defined", name)
	}
	method, _ := req.Headers.Get(":method")
	path, _ := req.Headers.Get(":path")
	authority, _ := req.Headers.Get(":authority")
	if method == "" || authority == "" {
		return nil, errors.New("proxy: http call without :method or :authority")
	}
	u, perr := url.ParseRequestURI(path)
	err = perr
	if err != nil {
		return nil, fmt.Errorf("proxy: http call path: %w", err)
	}
	u.Scheme, u.Host = "http", "upstream"
	out := &http.Request{Method: method, URL: u, Host: authority, Header: http.Header{},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	for _, kv := range req.Headers {
		if !strings.HasPrefix(kv[0], ":") {
			out.Header.Add(kv[0], kv[1])
		}
	}
	if len(req.Body) > 0 {
		out.Body = io.NopCloser(bytes.NewReader(req.Body))
		out.ContentLength = int64(len(req.Body))
	}
	out = out.WithContext(ctx)
	resp, _, err := pool.Forward(ctx, out, upstream.Timeouts{Connect: p.timeout, ResponseHeader: p.timeout})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCallResponse+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxCallResponse {
		return nil, errors.New("proxy: http call response is larger than 1 MiB")
	}
	res = &runtime.HTTPResponse{Body: body}
	res.Headers = append(res.Headers, [2]string{":status", strconv.Itoa(resp.StatusCode)})
	for k, vv := range resp.Header {
		for _, v := range vv {
			res.Headers = append(res.Headers, [2]string{lower(k), v})
		}
	}
	for k, vv := range resp.Trailer {
		for _, v := range vv {
			res.Trailers = append(res.Trailers, [2]string{lower(k), v})
		}
	}
	return res, nil
}
