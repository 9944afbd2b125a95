package proxy

import (
	"fmt"
	"net/http"
)

// writeError answers with status and a short plain-text body that names
// the cause, prefixed "wedge: " so clients can tell the edge from the
// origin.
func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "wedge: "+format+"\n", args...)
}
