package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wedgeproxy/wedge/edge/upstream"
)

// upgrade completes a protocol switch (WebSocket and the like): it hands
// the upstream's 101 to the client on the hijacked connection, then copies
// bytes both ways until either side closes, and closes both.
func (f *forward) upgrade(w http.ResponseWriter, r *http.Request, resp *http.Response, ep string, l *Listener) {
	back, ok := resp.Body.(*upstream.Upgraded)
	if !ok {
		resp.Body.Close()
		l.fail(w, r, http.StatusBadGateway, "the upstream switched protocols on a connection that cannot be taken over",
			"tenant", f.pool.Tenant, "pool", f.pool.Name, "endpoint", ep)
		return
	}
	defer back.Close()
	want, got := r.Header.Get("Upgrade"), resp.Header.Get("Upgrade")
	if !strings.EqualFold(want, got) {
		l.fail(w, r, http.StatusBadGateway, fmt.Sprintf("the upstream switched to protocol %q, the client asked for %q", got, want),
			"tenant", f.pool.Tenant, "pool", f.pool.Name, "endpoint", ep)
		return
	}
	if f.share != nil {
		if !f.share.openTunnel(w, f.caps) {
			return
		}
		defer f.share.tunnels.Add(-1)
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		l.fail(w, r, http.StatusBadGateway, "cannot switch protocols on this connection", "error", err.Error())
		return
	}
	defer conn.Close()
	if !f.conns.add(conn) {
		return // draining: accept no new long-lived connections
	}
	defer f.conns.remove(conn)

	h := make(http.Header, len(resp.Header)+2)
	copyResponseHeader(h, resp.Header)
	h["Connection"] = []string{"Upgrade"}
	h["Upgrade"] = []string{got}
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	h.Write(brw)
	brw.WriteString("\r\n")
	if err := brw.Flush(); err != nil {
		return
	}
	t := &tunnel{idle: l.TunnelIdle}
	t.touch()
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		defer recoverBug(l, "tunnel to the upstream")
		t.pipe(back, brw.Reader, conn.SetReadDeadline)
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		defer recoverBug(l, "tunnel to the client")
		t.pipe(conn, back, back.SetReadDeadline)
	}()
	<-done
	// One side finished: close both so the other copy ends too.
	conn.Close()
	back.Close()
	<-done
}

// tunnel copies an upgraded connection both ways and closes it when
// nothing moved in either direction for idle (0 = never).
type tunnel struct {
	idle time.Duration
	last atomic.Int64 // unix nanoseconds of the last byte either way
}

func (t *tunnel) touch() { t.last.Store(time.Now().UnixNano()) }

// pipe copies src to dst until either fails, or until src has been idle
// for t.idle while the other direction was idle too.
func (t *tunnel) pipe(dst io.Writer, src io.Reader, setReadDeadline func(time.Time) error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		if t.idle > 0 {
			setReadDeadline(time.Now().Add(t.idle))
		}
		n, err := src.Read(buf)
		if n > 0 {
			t.touch()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, t.last.Load())) < t.idle {
				continue // the other direction is alive
			}
			return
		}
	}
}

// hijacked tracks connections taken over from the HTTP server, which the
// server's graceful shutdown does not see.
type hijacked struct {
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	draining bool
}

func (h *hijacked) add(c net.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return false
	}
	if h.conns == nil {
		h.conns = map[net.Conn]struct{}{}
	}
	h.conns[c] = struct{}{}
	return true
}

func (h *hijacked) remove(c net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
}

// closeAll closes every tracked connection and refuses new ones.
func (h *hijacked) closeAll() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.draining = true
	n := len(h.conns)
	for c := range h.conns {
		c.Close()
	}
	return n
}
