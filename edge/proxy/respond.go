package proxy

import (
	"net/http"
	"strconv"

	"github.com/wedgeproxy/wedge/edge/config"
)

// respond answers at the edge with a fixed response.
type respond struct {
	status int
	header http.Header
	body   []byte
}

func newRespond(c *config.Respond) *respond {
	rs := &respond{status: c.Status, header: http.Header{}, body: []byte(c.Body)}
	if rs.status == 0 {
		rs.status = http.StatusOK
	}
	for k, v := range c.Headers {
		rs.header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if rs.header["Content-Type"] == nil && len(rs.body) > 0 {
		rs.header["Content-Type"] = []string{"text/plain; charset=utf-8"}
	}
	rs.header["Content-Length"] = []string{strconv.Itoa(len(rs.body))}
	return rs
}

func (rs *respond) serve(w http.ResponseWriter, r *http.Request, _ *http.Request, _ *Listener) {
	h := w.Header()
	for k, vv := range rs.header {
		h[k] = vv
	}
	w.WriteHeader(rs.status)
	if r.Method != http.MethodHead {
		w.Write(rs.body)
	}
}
