package cache

import (
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"testing"
)

// TestEarlyHintsNotStored (issue 17 item 4): a 103 from the loopback
// origin passes through the cache to the client, and is not stored: its
// fields are neither in the final response nor in the hit, and a hit
// sends no 103. (It passes on the code before too: the tee relayed 1xx
// already; what failed was the upstream client, see proxy's
// TestEarlyHints.)
func TestEarlyHintsNotStored(t *testing.T) {
	e := newEnv(t, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "final")
	})
	for i, wantHints := range []int{1, 0} {
		var hints []textproto.MIMEHeader
		req, _ := http.NewRequest("GET", e.front.URL+"/h", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				if code == http.StatusEarlyHints {
					hints = append(hints, h)
				}
				return nil
			}}))
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if len(hints) != wantHints || wantHints == 1 && hints[0].Get("Link") != "</a.css>; rel=preload" {
			t.Fatalf("request %d: 103s %v, want %d with the Link", i, hints, wantHints)
		}
		if res.StatusCode != 200 || string(b) != "final" || res.Header.Get("Link") != "" {
			t.Fatalf("request %d: %d %q Link %q", i, res.StatusCode, b, res.Header.Get("Link"))
		}
		if hit := isHit(resp{header: res.Header}); hit != (i == 1) {
			t.Fatalf("request %d: Cache-Status %q", i, res.Header.Get("Cache-Status"))
		}
	}
}
