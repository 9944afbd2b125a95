package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// MaxResponseHeaderBytes bounds an upstream's response header block.
const MaxResponseHeaderBytes = 1 << 20

// idleTimeout is how long an idle keep-alive connection is kept.
const idleTimeout = 90 * time.Second

// aLongTimeAgo is a deadline that makes blocked I/O return at once.
var aLongTimeAgo = time.Unix(1, 0)

// Client forwards HTTP/1.1 requests over pooled keep-alive connections.
//
// Unlike http.Transport it writes the request and reads the response on
// the caller's goroutine (a second goroutine only streams a request body),
// so a proxied request costs no goroutine hand-offs. It speaks HTTP/1.1
// only, as the upstream side of an edge proxy does.
type Client struct {
	timeouts Timeouts
	maxIdle  int
	dialer   net.Dialer

	mu     sync.Mutex
	idle   map[string][]*conn // per endpoint, most recently used last
	closed bool
}

func newClient(t Timeouts, maxIdle int) *Client {
	return &Client{
		timeouts: t,
		maxIdle:  maxIdle,
		dialer:   net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second},
		idle:     map[string][]*conn{},
	}
}

// conn is one upstream connection.
type conn struct {
	nc       net.Conn
	lr       limitReader
	br       *bufio.Reader
	bw       *bufio.Writer
	ep       string
	reused   bool
	lastUsed time.Time
}

// limitReader stops reading after n bytes when n >= 0; it bounds the
// response header block.
type limitReader struct {
	r net.Conn
	n int64
}

var errHeaderTooLarge = fmt.Errorf("upstream: response header larger than %d bytes", MaxResponseHeaderBytes)

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// RoundTrip sends req to endpoint ep and returns the response with its
// headers read. The caller must read the body to EOF or close it; a body
// read to EOF returns the connection to the pool. A 101 response's Body is
// an io.ReadWriteCloser over the raw connection. Errors are the dialer's
// (*net.OpError with Op "dial"), net.Error timeouts, or ctx's.
func (c *Client) RoundTrip(ctx context.Context, req *http.Request, ep string) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		cn, err := c.get(ctx, ep)
		if err != nil {
			return nil, err
		}
		if cn.reused && req.Body != nil && !alive(cn) {
			// A body cannot be sent twice: make sure the upstream has not
			// closed the idle connection before using it.
			cn.nc.Close()
			if cn, err = c.dial(ctx, ep); err != nil {
				return nil, err
			}
		}
		resp, err := c.exchange(ctx, cn, req)
		if err == nil {
			return resp, nil
		}
		// A reused connection the upstream had already closed fails at
		// once; a request without a body is safe to send again on a new
		// connection, once.
		if attempt == 0 && cn.reused && req.Body == nil && ctx.Err() == nil && isStale(err) {
			continue
		}
		return nil, err
	}
}

func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (c *Client) exchange(ctx context.Context, cn *conn, req *http.Request) (*http.Response, error) {
	stop := context.AfterFunc(ctx, func() { cn.nc.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		cn.nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	// The response-header deadline starts once the request is written;
	// hd guards it against a response that arrives before that.
	hd := &headerDeadline{nc: cn.nc, d: c.timeouts.ResponseHeader}
	var wrote chan error
	if req.Body == nil {
		if err := writeRequest(cn.bw, req); err != nil {
			return fail(err)
		}
		if err := cn.bw.Flush(); err != nil {
			return fail(err)
		}
		hd.start()
	} else {
		// Stream the body while the response is read: an upstream may
		// answer before it has read the whole body.
		wrote = make(chan error, 1)
		go func() {
			err := writeRequest(cn.bw, req)
			if err == nil {
				err = cn.bw.Flush()
			}
			if err == nil {
				hd.start()
			}
			wrote <- err
		}()
	}
	cn.lr.n = MaxResponseHeaderBytes
	var resp *http.Response
	var err error
	for {
		// Peek first: an error before any byte of the response (a stale
		// keep-alive connection) is told apart from a broken response.
		if _, err = cn.br.Peek(1); err == nil {
			resp, err = http.ReadResponse(cn.br, req)
		}
		if err != nil {
			if wrote != nil {
				cn.nc.Close()
				<-wrote
			}
			return fail(err)
		}
		// Interim responses (100 Continue, 103 Early Hints) are consumed;
		// 101 ends the exchange.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		cn.lr.n = MaxResponseHeaderBytes
	}
	cn.lr.n = -1
	hd.stop()

	if resp.StatusCode == http.StatusSwitchingProtocols {
		stop()
		resp.Body = &upgraded{conn: cn}
		return resp, nil
	}
	resp.Body = &body{rc: resp.Body, cn: cn, c: c, stop: stop, wrote: wrote, keep: !resp.Close && !req.Close}
	return resp, nil
}

// get returns an idle connection to ep, or dials one.
func (c *Client) get(ctx context.Context, ep string) (*conn, error) {
	now := time.Now()
	c.mu.Lock()
	for list := c.idle[ep]; len(list) > 0; list = c.idle[ep] {
		cn := list[len(list)-1]
		list[len(list)-1] = nil
		c.idle[ep] = list[:len(list)-1]
		if now.Sub(cn.lastUsed) < idleTimeout {
			c.mu.Unlock()
			return cn, nil
		}
		cn.nc.Close()
	}
	c.mu.Unlock()
	return c.dial(ctx, ep)
}

// dial opens a new connection to ep.
func (c *Client) dial(ctx context.Context, ep string) (*conn, error) {
	nc, err := c.dialer.DialContext(ctx, "tcp", ep)
	if err != nil {
		return nil, err
	}
	cn := &conn{nc: nc, ep: ep}
	cn.lr = limitReader{r: nc, n: -1}
	cn.br = bufio.NewReaderSize(&cn.lr, 16<<10)
	cn.bw = bufio.NewWriterSize(nc, 16<<10)
	return cn, nil
}

// put returns cn to the idle pool, or closes it when the pool is full or
// closed.
func (c *Client) put(cn *conn) {
	cn.reused = true
	cn.lastUsed = time.Now()
	c.mu.Lock()
	if !c.closed && len(c.idle[cn.ep]) < c.maxIdle {
		c.idle[cn.ep] = append(c.idle[cn.ep], cn)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	cn.nc.Close()
}

// Close closes the idle connections; connections in use close when their
// response is done.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for ep, list := range c.idle {
		for _, cn := range list {
			cn.nc.Close()
		}
		delete(c.idle, ep)
	}
}

// body is a response body; read to EOF, it gives its connection back.
type body struct {
	rc    io.ReadCloser
	cn    *conn
	c     *Client
	stop  func() bool
	wrote chan error // nil when the request had no body
	keep  bool
	done  bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.release(true)
	} else if err != nil {
		b.release(false)
	}
	return n, err
}

// Close releases the connection; one not read to EOF cannot be reused.
func (b *body) Close() error {
	if !b.done {
		b.release(false)
	}
	return nil
}

func (b *body) release(reusable bool) {
	b.done = true
	// stop reports false when ctx already fired and poisoned the deadline.
	if !b.stop() {
		reusable = false
	}
	if b.wrote != nil {
		// The response is complete; if the request body is still being
		// sent (an early answer), do not wait for it: the connection is
		// not reusable, and closing it ends the writer.
		select {
		case err := <-b.wrote:
			if err != nil {
				reusable = false
			}
		default:
			reusable = false
		}
	}
	if reusable && b.keep {
		b.c.put(b.cn)
		return
	}
	b.cn.nc.Close()
}

// headerDeadline arms the response-header timeout once the request is
// written and disarms it when the headers have arrived, whichever
// goroutine gets there first.
type headerDeadline struct {
	nc   net.Conn
	d    time.Duration
	mu   sync.Mutex
	done bool
}

func (h *headerDeadline) start() {
	if h.d <= 0 {
		return
	}
	h.mu.Lock()
	if !h.done {
		h.nc.SetReadDeadline(time.Now().Add(h.d))
	}
	h.mu.Unlock()
}

func (h *headerDeadline) stop() {
	if h.d <= 0 {
		return
	}
	h.mu.Lock()
	h.done = true
	h.nc.SetReadDeadline(time.Time{})
	h.mu.Unlock()
}

// upgraded is the raw connection after a 101 response.
type upgraded struct{ conn *conn }

func (u *upgraded) Read(p []byte) (int, error)  { return u.conn.br.Read(p) }
func (u *upgraded) Write(p []byte) (int, error) { return u.conn.nc.Write(p) }
func (u *upgraded) Close() error                { return u.conn.nc.Close() }
