package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"
)

// BodyAborter is implemented by a request body whose Read, blocked on a
// slow client, can be made to return at once from another goroutine.
// When an exchange ends before its request body was sent (the upstream
// answered early, or failed), the client closes the connection, calls
// AbortRead, and waits for the goroutine writing the body to return: no
// Read of the body happens once the response body is closed or RoundTrip
// has returned an error. A body without AbortRead is waited for until its
// pending Read returns by itself.
type BodyAborter interface {
	AbortRead()
}

// ErrWriterPanic reports a panic in the goroutine that writes a request
// body: a Wedge bug, logged with its stack; only that request fails.
var ErrWriterPanic = errors.New("upstream: the request body writer panicked")

// upload is the goroutine that streams a request body upstream while the
// response is read. Exactly one of poll (reporting done) or join
// collects its result, and join always waits for the goroutine to end.
type upload struct {
	body   any // the request body, for AbortRead
	result chan error
	err    error
	done   bool
}

// startUpload writes req on cn in a new goroutine.
func startUpload(cn *conn, req *http.Request, h checked, t Timeouts, hd *headerDeadline) *upload {
	up := &upload{body: req.Body, result: make(chan error, 1)}
	cn.w.idle = t.ResponseHeader
	go func() {
		err := writeUpload(cn, req, h)
		cn.w.idle = 0
		cn.nc.SetWriteDeadline(time.Time{})
		if err == nil {
			hd.start()
			up.result <- nil
			return
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = fmt.Errorf("%w (%s without progress)", ErrUploadStalled, t.ResponseHeader)
		}
		// The result first, then wake the reader: woken, it polls and
		// reports this error (a refused request, a stall, a panic), not
		// the deadline that woke it.
		up.result <- err
		hd.abort() // no answer is coming
	}()
	return up
}

// writeUpload writes req on cn; a panic (a Wedge bug) is logged and
// returned as ErrWriterPanic.
func writeUpload(cn *conn, req *http.Request, h checked) (err error) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("upstream: panic in the request body writer: a Wedge bug; only this request fails",
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrWriterPanic, p)
		}
	}()
	if err = writeChecked(cn.bw, req, h); err == nil {
		err = cn.bw.Flush()
	}
	return err
}

// poll reports the writer's result if it has ended. A nil upload (no
// request body) is done with no error.
func (up *upload) poll() (bool, error) {
	if up == nil {
		return true, nil
	}
	if !up.done {
		select {
		case up.err = <-up.result:
			up.done = true
		default:
		}
	}
	return up.done, up.err
}

// join ends the writer and waits for it. The caller has closed the
// connection, so a blocked write fails; a read blocked on the client is
// aborted.
func (up *upload) join() error {
	if up == nil {
		return nil
	}
	if done, _ := up.poll(); done {
		return up.err
	}
	if a, ok := up.body.(BodyAborter); ok {
		a.AbortRead()
	}
	up.err, up.done = <-up.result, true
	return up.err
}
