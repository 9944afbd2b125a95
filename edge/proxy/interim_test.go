package proxy

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/wedgeproxy/wedge/edge/cache"
	"github.com/wedgeproxy/wedge/edge/config"
)

// interimFront starts a Wedge listener forwarding bench.test to origin,
// through the cache when cached is set; its log goes to the returned
// buffer.
func interimFront(t *testing.T, origin string, cached bool) (front string, log *syncBuf) {
	t.Helper()
	c, err := cache.New(cache.Config{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s := New(c)
	log = &syncBuf{}
	s.UseLogger(slog.New(slog.NewTextHandler(log, nil)))
	route := config.Route{Upstream: "origin"}
	if cached {
		route.Cache = &config.RouteCache{Enabled: true}
	}
	snap, err := s.Build([]config.Tenant{{
		Name:      "acme",
		Domains:   []string{"bench.test"},
		Upstreams: []config.Upstream{{Name: "origin", Endpoints: []string{origin}}},
		Routes:    []config.Route{route},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Swap(snap)
	fs := httptest.NewServer(s.Handler(Listener{Name: "t"}))
	t.Cleanup(fs.Close)
	return fs.Listener.Addr().String(), log
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEarlyHints (issue 17 item 4): a 103 from the origin reaches the
// client, on plain and cached routes, and is never stored: its fields
// are not in the final response, and a hit sends no 103. On the code
// before, the upstream client consumed every interim response.
func TestEarlyHints(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.Header().Set("X-Hint", "early")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("X-Hint")
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "final")
	}))
	t.Cleanup(origin.Close)
	for _, cached := range []bool{false, true} {
		name := map[bool]string{false: "forward", true: "cached"}[cached]
		t.Run(name, func(t *testing.T) {
			front, _ := interimFront(t, origin.Listener.Addr().String(), cached)
			get := func() (codes []int, hints []textproto.MIMEHeader, res *http.Response, body string) {
				t.Helper()
				tr := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
					codes = append(codes, code)
					hints = append(hints, h)
					return nil
				}}
				req, _ := http.NewRequest("GET", "http://"+front+"/page", nil)
				req.Host = "bench.test"
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), tr))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				return codes, hints, res, string(b)
			}
			codes, hints, res, body := get()
			if len(codes) != 1 || codes[0] != 103 || hints[0].Get("X-Hint") != "early" || hints[0].Get("Link") != "</style.css>; rel=preload; as=style" {
				t.Fatalf("interim responses %v %v, want one 103 with the origin's hints", codes, hints)
			}
			if res.StatusCode != 200 || body != "final" || res.Header.Get("X-Hint") != "" {
				t.Fatalf("final %d %q X-Hint %q", res.StatusCode, body, res.Header.Get("X-Hint"))
			}
			codes, _, res, body = get()
			hit := strings.Contains(res.Header.Get("Cache-Status"), "hit")
			if hit != cached || body != "final" || res.Header.Get("X-Hint") != "" {
				t.Fatalf("second: hit %v (%q), body %q, X-Hint %q", hit, res.Header.Get("Cache-Status"), body, res.Header.Get("X-Hint"))
			}
			if want := map[bool]int{false: 1, true: 0}[cached]; len(codes) != want {
				t.Fatalf("second request got interim responses %v, want %d", codes, want)
			}
		})
	}
}

// TestUnknownTransferEncoding (issue 17 item 5): an origin response whose
// Transfer-Encoding is anything but chunked alone cannot be framed nor
// passed on (transfer codings are hop by hop, and the client did not ask
// for this one): 502, with the cause and the field's value in the body
// and in the log line's message. On the code before, the client got "the
// upstream exchange failed" and the log line said no more.
func TestUnknownTransferEncoding(t *testing.T) {
	tests := []struct {
		name, te, want string
	}{
		{"gzip", "Transfer-Encoding: gzip\r\n", `unsupported transfer encoding: "gzip"`},
		{"gzip then chunked", "Transfer-Encoding: gzip, chunked\r\n", `unsupported transfer encoding: "gzip, chunked"`},
		{"identity", "Transfer-Encoding: identity\r\n", `unsupported transfer encoding: "identity"`},
		{"two lines", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", `too many transfer encodings: ["chunked" "chunked"]`},
	}
	for _, tt := range tests {
		for _, cached := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{false: "", true: " cached"}[cached], func(t *testing.T) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						go func() {
							defer c.Close()
							br := bufio.NewReader(c)
							if _, err := http.ReadRequest(br); err != nil {
								return
							}
							io.WriteString(c, "HTTP/1.1 200 OK\r\n"+tt.te+"Cache-Control: max-age=60\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
						}()
					}
				}()
				front, log := interimFront(t, ln.Addr().String(), cached)
				req, _ := http.NewRequest("GET", "http://"+front+"/te", nil)
				req.Host = "bench.test"
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				const cause = "the upstream's response cannot be passed on: its Transfer-Encoding is not chunked, the only transfer coding the edge decodes ("
				if want := "wedge: " + cause + tt.want + ") (request " + res.Header.Get(RequestIDHeader) + ")\n"; res.StatusCode != http.StatusBadGateway || string(b) != want {
					t.Fatalf("%d %q, want 502 %q", res.StatusCode, b, want)
				}
				if l := log.String(); !strings.Contains(l, `msg="proxy: `+strings.ReplaceAll(cause, `"`, `\"`)) || !strings.Contains(l, res.Header.Get(RequestIDHeader)) {
					t.Fatalf("log %q lacks the cause or the request id", l)
				}
			})
		}
	}
}
