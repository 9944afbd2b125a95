package proxy

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/config"
)

// stressOrigin answers by path: /read reads the whole body and says how
// long it was; /early answers 401 without reading; /partial reads a few
// KiB, then answers 413; /reset reads a little and drops the connection
// (an upstream reset).
func stressOrigin(t *testing.T) string {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch path.Base(r.URL.Path) { // /sdk/read, /wat/read: read
		case "read":
			n, _ := io.Copy(io.Discard, r.Body)
			io.WriteString(w, strconv.FormatInt(n, 10))
		case "early":
			w.WriteHeader(http.StatusUnauthorized)
		case "partial":
			io.CopyN(io.Discard, r.Body, 4<<10)
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		case "reset":
			io.CopyN(io.Discard, r.Body, 1<<10)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	}))
	t.Cleanup(origin.Close)
	return origin.Listener.Addr().String()
}

// abortingBody is a request body that fails after cut bytes: a client
// that goes away mid-upload.
type abortingBody struct {
	left, cut int
}

var errClientGone = errors.New("client gone")

func (b *abortingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	if b.cut == 0 {
		return 0, errClientGone
	}
	n := min(len(p), b.left, b.cut)
	for i := range p[:n] {
		p[i] = 'u'
	}
	b.left -= n
	b.cut -= n
	return n, nil
}

// TestUploadStress (issue 16 item 1): many concurrent uploads to filtered
// routes whose filters take body callbacks (an SDK filter that continues
// on every chunk, and a WAT filter that pauses on the body), against an
// origin that answers early, answers after a partial read, resets, or
// reads all; clients abort uploads midway or give up waiting. Before the
// fix, the goroutine writing a body upstream outlived its request and
// pushed chunks into a stream already returned to its pool: a nil
// dereference that killed the process, and a data race the race detector
// reports. Here every request must end with a status the case allows,
// and no goroutine of the proxy's may be left once the clients are gone.
func TestUploadStress(t *testing.T) {
	origin := stressOrigin(t)
	sdk, err := filepath.Abs(filepath.Join("..", "..", "bin", "filters", "headers.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	s := New(nil)
	s.UseFilters(Filters{Engine: testEngine(t)})
	snap, err := s.Build([]config.Tenant{{
		Name:      "t",
		Domains:   []string{"site.test"},
		Upstreams: []config.Upstream{{Name: "origin", Endpoints: []string{origin}}},
		Routes: []config.Route{
			{Match: config.Match{PathPrefix: "/sdk/"}, Upstream: "origin", Filters: []config.Filter{
				{Name: "stamp", Module: sdk, Config: config.FilterConfig(`{"request":{"set":{"x-stamp":"1"}}}`)}}},
			{Match: config.Match{PathPrefix: "/wat/"}, Upstream: "origin", Filters: []config.Filter{
				{Name: "upper", Module: filepath.Join("..", "..", "bin", "wat", "body_upper.wasm"),
					Limits: config.FilterLimits{MaxBodyBytes: 8 << 20, CallDeadline: config.Duration(5 * time.Second)}}}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Swap(snap)
	t.Cleanup(func() { closeUnused(s.snap.Load(), nil) })
	// The idle cut-off only guards against a hang: on a loaded machine a
	// client of the storm can go seconds without moving a byte.
	front := httptest.NewServer(s.Handler(Listener{Name: "test", BodyIdle: 30 * time.Second}))
	t.Cleanup(front.Close)

	before := goruntime.NumGoroutine()
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	c := &http.Client{Transport: tr}
	allowed := map[string][]int{
		"/read":    {200},
		"/early":   {401},
		"/partial": {413},
		"/reset":   {502},
	}
	paths := []string{"/read", "/early", "/partial", "/reset"}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(1, uint64(w)))
			for range each {
				prefix := [...]string{"/sdk", "/wat"}[rng.IntN(2)]
				p := paths[rng.IntN(len(paths))]
				size := 1 + rng.IntN(256<<10)
				body := &abortingBody{left: size, cut: size + 1}
				abort := rng.IntN(4) == 0 // a client that goes away mid-upload
				if abort {
					body.cut = rng.IntN(size)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				if rng.IntN(8) == 0 {
					// A client that gives up waiting at some point.
					cancel()
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rng.IntN(20))*time.Millisecond)
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+front.Listener.Addr().String()+prefix+p, body)
				req.Host = "site.test"
				req.ContentLength = int64(size)
				resp, err := c.Do(req)
				if err != nil {
					cancel()
					continue // the edge may close on a client it stopped reading
				}
				got, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				cancel()
				if abort || rerr != nil {
					continue
				}
				ok := false
				for _, st := range allowed[p] {
					ok = ok || resp.StatusCode == st
				}
				if !ok {
					t.Errorf("%s%s (%d bytes): status %d %q, want one of %v", prefix, p, size, resp.StatusCode, got, allowed[p])
				}
				if p == "/read" && resp.StatusCode == 200 && string(got) != strconv.Itoa(size) {
					t.Errorf("%s/read: the origin got %s bytes of %d", prefix, got, size)
				}
			}
		}()
	}
	wg.Wait()
	tr.CloseIdleConnections()

	// The route still serves whole bodies through both filters.
	for _, prefix := range []string{"/sdk", "/wat"} {
		status, body := post(t, front.Listener.Addr().String(), prefix+"/read", "hello")
		if status != 200 || body != "5" {
			t.Fatalf("%s/read after the storm: %d %q", prefix, status, body)
		}
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	// Every upload goroutine has ended: what is left is the servers' own
	// (listeners, idle keep-alive connections closing).
	deadline := time.Now().Add(10 * time.Second)
	for goruntime.NumGoroutine() > before+8 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := goruntime.NumGoroutine(); n > before+8 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left, %d before the storm:\n%s", n, before, buf[:goruntime.Stack(buf, true)])
	}
}
