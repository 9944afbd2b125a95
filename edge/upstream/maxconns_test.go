package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// TestMaxConnsPerEndpoint (issue 11 item 8): a pool opens at most
// maxConns connections to an endpoint, idle and in use; a request that
// would need another fails at once with ErrEndpointFull, and once a
// connection is back in the pool (or closed) requests go through again.
func TestMaxConnsPerEndpoint(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-release
		}
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "ok")
	}))
	defer origin.Close()
	p := NewPool("acme", &config.Upstream{Name: "web", Endpoints: []string{origin.Listener.Addr().String()}}, nil, 1)
	defer p.Close()
	tm := Timeouts{Connect: 5 * time.Second, ResponseHeader: 10 * time.Second}
	send := func(path string) (string, error) {
		req, _ := http.NewRequest("GET", "http://upstream"+path, nil)
		req.Host = "app.test"
		resp, _, err := p.Forward(context.Background(), req, tm)
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b), err
	}
	held := make(chan error, 1)
	go func() { _, err := send("/hold"); held <- err }()
	<-entered
	if _, err := send("/x"); !errors.Is(err, ErrEndpointFull) {
		t.Fatalf("a second request while the one connection is in use: %v, want ErrEndpointFull", err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/x", "/close", "/x"} {
		// The held connection went back to the pool; /close closes it,
		// which frees its place for a new one.
		if body, err := send(path); err != nil || body != "ok" {
			t.Fatalf("%s after the first ended: %q %v", path, body, err)
		}
	}
}
