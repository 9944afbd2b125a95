package cache

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a controllable clock for Cache.now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(time.Now().Unix(), 0)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// httpDate formats t as an HTTP-date.
func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// origin is a real loopback origin server that counts its requests.
type origin struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	h    http.HandlerFunc
	last *http.Request // the last request received (a clone)
}

func (o *origin) set(h http.HandlerFunc) {
	o.mu.Lock()
	o.h = h
	o.mu.Unlock()
}

func (o *origin) lastRequest() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// env is a cache in front of an origin, both on loopback: client → front
// (the cache's Handler) → reverse proxy → origin.
type env struct {
	t      *testing.T
	c      *Cache
	clk    *clock
	origin *origin
	front  *httptest.Server
	proxy  *httputil.ReverseProxy
	client *http.Client
}

func newEnv(t *testing.T, p Policy, h http.HandlerFunc) *env {
	t.Helper()
	c, err := New(Config{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, c, "acme", p, h)
}

func newEnvWith(t *testing.T, c *Cache, tenant string, p Policy, h http.HandlerFunc) *env {
	t.Helper()
	e := &env{t: t, c: c, clk: newClock()}
	c.now = e.clk.now
	o := &origin{h: h}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		o.mu.Lock()
		o.last = r.Clone(r.Context())
		hf := o.h
		o.mu.Unlock()
		w.Header().Set("Date", httpDate(e.clk.now()))
		hf(w, r)
	}))
	t.Cleanup(o.Close)
	e.origin = o
	u, _ := url.Parse(o.URL)
	e.proxy = httputil.NewSingleHostReverseProxy(u)
	e.proxy.ErrorLog = log.New(io.Discard, "", 0)
	ptr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 128}
	t.Cleanup(ptr.CloseIdleConnections)
	e.proxy.Transport = ptr
	e.front = httptest.NewServer(c.Handler(tenant, p, e.proxy))
	e.front.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(e.front.Close)
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 128}
	t.Cleanup(tr.CloseIdleConnections)
	e.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.bg.Wait)
	return e
}

// resp is a response as read by the client.
type resp struct {
	status int
	header http.Header
	body   string
}

func (r resp) cs() string { return r.header.Get("Cache-Status") }

// do sends a request to the front; hdr is name, value pairs.
func (e *env) do(method, path string, hdr ...string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.front.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, string(b)}
}

func (e *env) get(path string, hdr ...string) resp {
	e.t.Helper()
	return e.do(http.MethodGet, path, hdr...)
}

// fixed returns an origin handler answering status with body and the
// header pairs.
func fixed(status int, body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Add(hdr[i], hdr[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func isHit(r resp) bool { return strings.Contains(r.cs(), "; hit") }

// forwardTo is a minimal upstream handler: it fetches the request's URI
// from base and streams the answer, as the proxy's forwarding does.
func forwardTo(base string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := http.Get(base + r.URL.RequestURI())
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	})
}
