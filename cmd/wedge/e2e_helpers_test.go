package main

// Helpers for the end-to-end tests: the real wedge binary, built once by
// TestMain, run as a child process against real loopback origins.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/examples/origin/handler"
)

// Hang guards. None is a performance threshold: each only stops a test
// that would otherwise wait forever.
const (
	startTimeout = 60 * time.Second // a cold compile of Go filters under -race is slow
	stopTimeout  = 10 * time.Second
	hangGuard    = 20 * time.Second
)

// wedgeBin is the wedge binary built by TestMain.
var wedgeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wedge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	wedgeBin = filepath.Join(dir, "wedge")
	args := []string{"build", "-o", wedgeBin}
	if raceEnabled {
		// The binary under test runs with the race detector too, so the
		// end-to-end tests also hunt data races in the real server.
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logLine is one line the node wrote to stderr: JSON fields when it is a
// JSON log record.
type logLine struct {
	raw    string
	fields map[string]any
}

func (l logLine) msg() string { s, _ := l.fields["msg"].(string); return s }

func (l logLine) str(key string) string {
	switch v := l.fields[key].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// wedgeNode is a running `wedge serve` child process.
type wedgeNode struct {
	t       *testing.T
	cmd     *exec.Cmd
	cfgPath string
	// addrs maps a listener's name to its bound address.
	addrs map[string]string

	mu      sync.Mutex
	lines   []logLine
	changed chan struct{} // closed and replaced at each new line
	done    chan struct{} // closed once the process has exited
}

// writeConfig writes cfg as the configuration file in dir.
func writeConfig(t *testing.T, path, cfg string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startWedge writes cfg into a temporary directory, runs `wedge serve` on
// it and waits until each of the named listeners has logged its address.
// The process is stopped (SIGTERM, then SIGKILL) when the test ends.
func startWedge(t *testing.T, cfg string, listeners ...string) *wedgeNode {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wedge.yaml")
	writeConfig(t, path, cfg)
	n := &wedgeNode{
		t:       t,
		cfgPath: path,
		addrs:   map[string]string{},
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	n.cmd = exec.Command(wedgeBin, "serve", "--config", path)
	// The default data directory is ./data, whose store file one process
	// holds: each node runs in a directory of its own.
	n.cmd.Dir = filepath.Dir(path)
	orphanGuard(n.cmd)
	stderr, err := n.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			l := logLine{raw: sc.Text()}
			if json.Unmarshal(sc.Bytes(), &l.fields) != nil {
				l.fields = nil
			}
			n.mu.Lock()
			n.lines = append(n.lines, l)
			close(n.changed)
			n.changed = make(chan struct{})
			n.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
		n.cmd.Wait() // after every read of the pipe, as Wait closes it
		close(n.done)
	}()
	t.Cleanup(func() {
		n.stop()
		n.mu.Lock()
		for _, l := range n.lines {
			if strings.Contains(l.raw, "WARNING: DATA RACE") || strings.HasPrefix(l.raw, "panic: ") {
				t.Errorf("wedge wrote %q", l.raw)
			}
		}
		n.mu.Unlock()
		if t.Failed() {
			n.dumpLog()
		}
	})
	for _, name := range listeners {
		l, err := n.waitLog(0, startTimeout, func(l logLine) bool {
			return l.msg() == "listening" && l.str("listener") == name
		})
		if err != nil {
			t.Fatalf("listener %q: %v", name, err)
		}
		n.addrs[name] = l.str("addr")
	}
	return n
}

// addr returns the bound address of the named listener.
func (n *wedgeNode) addr(name string) string {
	n.t.Helper()
	a, ok := n.addrs[name]
	if !ok {
		n.t.Fatalf("no listener %q was waited for", name)
	}
	return a
}

// mark returns the number of log lines so far, to wait for a line that
// comes after it.
func (n *wedgeNode) mark() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.lines)
}

// waitLog waits up to timeout for a log line at index from or later that
// satisfies ok.
func (n *wedgeNode) waitLog(from int, timeout time.Duration, ok func(logLine) bool) (logLine, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for i := from; ; {
		n.mu.Lock()
		lines, changed := n.lines, n.changed
		n.mu.Unlock()
		for ; i < len(lines); i++ {
			if ok(lines[i]) {
				return lines[i], nil
			}
		}
		select {
		case <-changed:
		case <-n.done:
			n.mu.Lock()
			more := len(n.lines) > i
			n.mu.Unlock()
			if !more {
				return logLine{}, fmt.Errorf("wedge exited (%v) before logging the line waited for", n.cmd.ProcessState)
			}
		case <-deadline.C:
			return logLine{}, fmt.Errorf("no such log line within %s", timeout)
		}
	}
}

// waitMsg waits for a log line after from whose msg is msg.
func (n *wedgeNode) waitMsg(from int, msg string) logLine {
	n.t.Helper()
	l, err := n.waitLog(from, hangGuard, func(l logLine) bool { return l.msg() == msg })
	if err != nil {
		n.t.Fatalf("waiting for log %q: %v", msg, err)
	}
	return l
}

func (n *wedgeNode) signal(sig os.Signal) {
	n.t.Helper()
	if err := n.cmd.Process.Signal(sig); err != nil {
		n.t.Fatalf("signal %v: %v", sig, err)
	}
}

// exited reports whether the process has exited.
func (n *wedgeNode) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit and returns its exit code.
func (n *wedgeNode) wait() int {
	n.t.Helper()
	select {
	case <-n.done:
	case <-time.After(stopTimeout):
		n.t.Fatalf("wedge did not exit within %s", stopTimeout)
	}
	return n.cmd.ProcessState.ExitCode()
}

// stop sends SIGTERM and waits; after stopTimeout it kills the process.
func (n *wedgeNode) stop() {
	if n.exited() {
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(stopTimeout):
		n.t.Errorf("wedge did not stop within %s of SIGTERM; killed", stopTimeout)
		n.cmd.Process.Kill()
		<-n.done
	}
}

func (n *wedgeNode) dumpLog() {
	n.mu.Lock()
	defer n.mu.Unlock()
	var b strings.Builder
	for _, l := range n.lines {
		b.WriteString("  ")
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	n.t.Logf("wedge log (%s):\n%s", n.cfgPath, b.String())
}

// startOrigin starts a real loopback origin: the example origin's handler,
// plus the extra handlers given (ServeMux patterns; one for "/" replaces
// the example origin). It returns host:port.
func startOrigin(t *testing.T, extra map[string]http.Handler) string {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, h := range extra {
		mux.Handle(pattern, h)
	}
	if extra["/"] == nil {
		mux.Handle("/", handler.New("origin"))
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Client kinds. Every client dials the given wedge address whatever the
// URL's host, so URLs name the tenant's domain (Host and SNI).
type proto string

const (
	protoH1  proto = "h1"
	protoH2  proto = "h2"  // HTTP/2 over TLS (ALPN)
	protoH2C proto = "h2c" // HTTP/2 over cleartext, prior knowledge
)

func (p proto) scheme() string {
	if p == protoH2 {
		return "https"
	}
	return "http"
}

func (p proto) major() int {
	if p == protoH1 {
		return 1
	}
	return 2
}

// newClient returns a client speaking p to addr.
func newClient(t *testing.T, p proto, addr string) *http.Client {
	t.Helper()
	d := &net.Dialer{Timeout: startTimeout}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		DisableCompression: true,
		Protocols:          new(http.Protocols),
	}
	switch p {
	case protoH1:
		tr.Protocols.SetHTTP1(true)
	case protoH2:
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		tr.ForceAttemptHTTP2 = true
		tr.Protocols.SetHTTP2(true)
	case protoH2C:
		tr.Protocols.SetUnencryptedHTTP2(true)
	default:
		t.Fatalf("unknown protocol %q", p)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: hangGuard}
}

// do sends req and returns the response with its whole body.
func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, string(body)
}

// get is do for a GET of url.
func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

// echoOf decodes the example origin's echo.
func echoOf(t *testing.T, resp *http.Response, body string) handler.Echo {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200; body %q", resp.StatusCode, body)
	}
	var e handler.Echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("the origin's echo is not JSON (%v): %q", err, body)
	}
	return e
}

// header returns the values of the canonical key k in an echo's headers.
func header(e handler.Echo, k string) []string { return e.Headers[http.CanonicalHeaderKey(k)] }

// loopbackEgress is the egress section of the tests' node files, one
// line (so that it moves the lines of what follows by one): their origins
// run on loopback, which a node refuses tenants unless its file allows it.
const loopbackEgress = "egress: {allow: [127.0.0.0/8, \"::1\"]}\n"

// oneTenant is a configuration with one plain listener "http", the
// loopbackEgress, and tenant acme owning app.test and *.app.test,
// forwarding everything to origin.
func oneTenant(origin string) string {
	return fmt.Sprintf(loopbackEgress+`listeners:
  - name: http
    address: 127.0.0.1:0
data_dir: data
tenants:
  - name: acme
    domains: [app.test, "*.app.test"]
    upstreams:
      - name: origin
        endpoints: [%s]
    routes:
      - name: all
        upstream: origin
`, origin)
}

// waitRefused dials addr until the connection is refused, up to timeout.
func waitRefused(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		} else if errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("connections to %s still not refused after %s (last error: %v)", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// withApp returns a configuration made of nodeLayer (listeners, limits…),
// loopbackEgress and one tenant, acme, owning app.test, whose every
// request goes to origin.
func withApp(nodeLayer, origin string) string {
	return nodeLayer + loopbackEgress + fmt.Sprintf(`tenants:
  - name: acme
    domains: [app.test]
    upstreams:
      - name: origin
        endpoints: [%s]
    routes:
      - upstream: origin
`, origin)
}
