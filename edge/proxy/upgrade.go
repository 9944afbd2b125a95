package proxy

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

// upgrade completes a protocol switch (WebSocket and the like): it hands
// the upstream's 101 to the client on the hijacked connection, then copies
// bytes both ways until either side closes, and closes both.
func (f *forward) upgrade(w http.ResponseWriter, r *http.Request, resp *http.Response, ep string) {
	back, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		writeError(w, http.StatusBadGateway, "upstream %q (%s) switched protocols on a connection that cannot be taken over", f.pool.Name, ep)
		return
	}
	defer back.Close()
	want, got := r.Header.Get("Upgrade"), resp.Header.Get("Upgrade")
	if !strings.EqualFold(want, got) {
		writeError(w, http.StatusBadGateway, "upstream %q (%s) switched to protocol %q, the client asked for %q", f.pool.Name, ep, got, want)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, http.StatusBadGateway, "cannot switch protocols on this connection: %v", err)
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
	done := make(chan struct{}, 2)
	go func() { pipe(back, brw.Reader); done <- struct{}{} }()
	go func() { pipe(conn, back); done <- struct{}{} }()
	<-done
	// One side finished: close both so the other copy ends too.
	conn.Close()
	back.Close()
	<-done
}

func pipe(dst io.Writer, src io.Reader) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	io.CopyBuffer(dst, src, *bp)
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
