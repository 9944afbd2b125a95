package proxy

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
)

// writeError answers with status and a short plain-text body that names
// the cause, prefixed "wedge: " so clients can tell the edge from the
// origin. It is for causes that carry nothing of the node's: the client's
// own host or path, a refusal by rule. Failures whose detail names pools,
// endpoints or internal errors go through Listener.fail.
func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "wedge: "+format+"\n", args...)
}

// RequestIDHeader carries the ID of a request the edge failed, which the
// error body repeats and the node's log line records with the detail.
const RequestIDHeader = "X-Request-Id"

// fail answers a request the edge could not serve: the client gets the
// status, a short cause and a request ID; the node's log gets the same ID
// with the detail (pool, endpoint, the raw error), which is the
// operator's to see and no client's.
func (l *Listener) fail(w http.ResponseWriter, r *http.Request, status int, cause string, detail ...any) {
	l.failLogged(w, r, status, cause, true, detail...)
}

// failLogged is fail, logging only when logged is set (a failure already
// logged recently, repeated on every request of a flood, is not).
func (l *Listener) failLogged(w http.ResponseWriter, r *http.Request, status int, cause string, logged bool, detail ...any) {
	id := newRequestID()
	w.Header().Set(RequestIDHeader, id)
	writeError(w, status, "%s (request %s)", cause, id)
	log := l.log
	if log == nil || !logged {
		return
	}
	attrs := make([]any, 0, 10+len(detail))
	attrs = append(attrs, "request_id", id, "status", status, "host", r.Host, "method", r.Method, "path", r.URL.Path)
	attrs = append(attrs, detail...)
	log.Warn("proxy: "+cause, attrs...)
}

// newRequestID returns 16 random hex digits.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

var discardLog = slog.New(slog.DiscardHandler)

// recoverBug, deferred in a goroutine the proxy starts, turns a panic
// into a log line with the stack: a Wedge bug, which costs the request it
// happened in and never the process. http.ErrAbortHandler, the way a
// handler aborts a response on purpose, is not logged.
func recoverBug(l *Listener, where string) {
	if p := recover(); p != nil && p != http.ErrAbortHandler {
		recoverLog(l.log, where, p)
	}
}

// recoverLog logs a panic p recovered in where (log nil: discarded).
func recoverLog(log *slog.Logger, where string, p any) {
	if log == nil {
		log = discardLog
	}
	log.Error("proxy: panic in "+where+": a Wedge bug; only this request fails",
		"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
}
