package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestE2EEarlyAnswerFilteredUpload is issue 16's remote crash: concurrent
// 4 MiB uploads to a route with a filter built with our SDK (it exports
// proxy_on_request_body and continues on the headers), which the origin
// answers (401, 413, a redirect) before reading the body. The node used to
// die of a nil dereference in the filter's stream: the goroutine writing
// the body upstream outlived the request and pushed chunks into a chain
// already released to its pool. The node must survive, with the race
// detector on, and every answer that reaches a client must be the
// origin's.
func TestE2EEarlyAnswerFilteredUpload(t *testing.T) {
	t.Parallel()
	early := func(status int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if status == http.StatusFound {
				w.Header().Set("Location", "/elsewhere")
			}
			w.WriteHeader(status) // the body is never read
		})
	}
	origin := startOrigin(t, map[string]http.Handler{
		"/deny":  early(http.StatusUnauthorized),
		"/large": early(http.StatusRequestEntityTooLarge),
		"/moved": early(http.StatusFound),
	})
	n := startWedge(t, fmt.Sprintf(loopbackEgress+`listeners:
  - name: http
    address: 127.0.0.1:0
%s
tenants:
  - name: acme
    domains: [app.test]
    upstreams:
      - name: origin
        endpoints: [%s]
    routes:
      - upstream: origin
        filters:
          - name: stamp
            module: %s
            config: {request: {set: {x-stamp: "1"}}}
`, sharedData(t), origin, binPath(t, "filters/headers.wasm")), "http")
	upload := bytes.Repeat([]byte("u"), 4<<20)
	paths := []struct {
		path   string
		status int
	}{{"/deny", 401}, {"/large", 413}, {"/moved", 302}}
	for _, p := range []proto{protoH1, protoH2C} {
		c := newClient(t, p, n.addr("http"))
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		answered := 0
		for round := range 3 {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for i := range 8 {
				want := paths[(round+i)%len(paths)]
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
					defer cancel()
					req, _ := http.NewRequestWithContext(ctx, "POST", p.scheme()+"://app.test"+want.path, bytes.NewReader(upload))
					resp, err := c.Do(req)
					if err != nil {
						// The edge may close the connection before the
						// client has sent its body and read the answer:
						// not every client sees it. None may hang.
						if ctx.Err() != nil {
							t.Errorf("%s %s: no answer within %s", p, want.path, hangGuard)
						}
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != want.status {
						t.Errorf("%s %s: status %d, want the origin's %d", p, want.path, resp.StatusCode, want.status)
					}
					mu.Lock()
					answered++
					mu.Unlock()
				}()
			}
			wg.Wait()
			if n.exited() {
				n.dumpLog()
				t.Fatalf("%s round %d: the node exited", p, round)
			}
		}
		if answered == 0 {
			t.Errorf("%s: no client got the origin's answer", p)
		}
		// The node still serves, through the filter.
		resp, body := get(t, c, "http://app.test/")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: after the uploads, GET / got %d %q", p, resp.StatusCode, body)
		}
	}
	time.Sleep(100 * time.Millisecond) // let a late panic or race report reach the log
	if n.exited() {
		n.dumpLog()
		t.Fatal("the node exited")
	}
}
