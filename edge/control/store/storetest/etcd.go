// Package storetest gives tests a real etcd and a suite every Store
// must pass, as net/http/httptest gives them a real server.
package storetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wedgeproxy/wedge/edge/control/store"
)

// How long an etcd may take to become healthy, and to stop.
const (
	startTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
)

// Etcd is a one-member etcd cluster of a test's own: the etcd binary on
// PATH, listening on loopback ports nothing else uses, its data in the
// test's temporary directory. It is killed when the test ends. Call its
// methods from the test's goroutine.
type Etcd struct {
	t      testing.TB
	bin    string
	dir    string // data and log
	args   []string
	url    string       // client URL
	health *http.Client // for /health
	certs  *etcdCerts   // nil for a plain etcd

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

// prefixes numbers the stores Open makes, so each starts empty.
var prefixes atomic.Int64

// StartEtcd starts an etcd for t and waits until it is healthy. Without
// an etcd binary on PATH the test fails, saying to run scripts/deps.sh.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	return startEtcd(t, false)
}

// StartEtcdTLS is StartEtcd for an etcd that serves clients only over
// TLS and only with a client certificate it trusts (--client-cert-auth).
// A certificate authority made for the test signs etcd's certificate
// (for 127.0.0.1, ::1 and localhost) and a client's, all written to the
// test's temporary directory: ClientTLS has them, Untrusted has a pair
// etcd does not trust. Its Endpoints are https:// URLs; Open uses
// ClientTLS. Its peer port stays plain, on loopback.
func StartEtcdTLS(t testing.TB) *Etcd {
	t.Helper()
	return startEtcd(t, true)
}

func startEtcd(t testing.TB, withTLS bool) *Etcd {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatalf("storetest: %v: the store tests need a real etcd; run scripts/deps.sh (it installs Debian's etcd-server)", err)
	}
	base := t.TempDir()
	scheme, health := "http://", healthClient
	var certs *etcdCerts
	if withTLS {
		dir := filepath.Join(base, "certs")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatalf("storetest: %v", err)
		}
		if certs, err = makeEtcdCerts(dir); err != nil {
			t.Fatal(err)
		}
		tc, err := certs.client.clientConfig()
		if err != nil {
			t.Fatalf("storetest: %v", err)
		}
		scheme = "https://"
		health = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: tc}}
	}
	var errs []string
	for attempt := range 3 { // a free port can be taken before etcd binds it
		e := &Etcd{t: t, bin: bin, dir: filepath.Join(base, fmt.Sprint(attempt)), health: health, certs: certs}
		client, peer := scheme+freeAddr(t), "http://"+freeAddr(t)
		e.url = client
		e.args = []string{
			"--name", "wedge-test",
			"--data-dir", filepath.Join(e.dir, "data"),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", "wedge-test=" + peer, "--initial-cluster-state", "new",
			"--heartbeat-interval", "20", "--election-timeout", "200",
			"--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn",
		}
		if certs != nil {
			e.args = append(e.args,
				"--cert-file", certs.serverCert, "--key-file", certs.serverKey,
				"--trusted-ca-file", certs.client.CAFile, "--client-cert-auth")
		}
		if err := os.MkdirAll(e.dir, 0o700); err != nil {
			t.Fatalf("storetest: %v", err)
		}
		if err := e.start(); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		t.Cleanup(e.kill)
		return e
	}
	t.Fatalf("storetest: etcd did not start:\n%s", strings.Join(errs, "\n"))
	return nil
}

// Endpoints are the URLs clients connect to.
func (e *Etcd) Endpoints() []string { return []string{e.url} }

// ClientTLS are the files a client of a StartEtcdTLS etcd needs: the
// authority that signed etcd's certificate, and a client certificate
// etcd trusts. It fails the test for a plain etcd.
func (e *Etcd) ClientTLS() TLSFiles {
	e.t.Helper()
	if e.certs == nil {
		e.t.Fatal("storetest: ClientTLS of an etcd without TLS")
	}
	return e.certs.client
}

// Untrusted are files a StartEtcdTLS etcd's clients must be refused
// with: an authority that did not sign etcd's certificate, and a client
// certificate that authority signed, which etcd does not trust.
func (e *Etcd) Untrusted() TLSFiles {
	e.t.Helper()
	if e.certs == nil {
		e.t.Fatal("storetest: Untrusted of an etcd without TLS")
	}
	return e.certs.untrusted
}

// Open returns a store on this etcd, under a prefix no other Open has
// used (so it starts empty), closed when the test ends. On a
// StartEtcdTLS etcd it connects with ClientTLS.
func (e *Etcd) Open(t testing.TB) *store.Etcd {
	t.Helper()
	cfg := store.EtcdConfig{
		Endpoints: e.Endpoints(),
		Prefix:    fmt.Sprintf("/wedge-test/%d/", prefixes.Add(1)),
	}
	if e.certs != nil {
		cfg.TLS = e.certs.client.EtcdTLS()
	}
	s, err := store.OpenEtcd(cfg)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Stop ends etcd with SIGTERM and waits for it to exit (killing it if
// it takes more than 10s).
func (e *Etcd) Stop() {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd == nil {
		return
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(stopTimeout):
		e.cmd.Process.Kill()
		<-e.exited
		e.t.Errorf("storetest: etcd took more than %v to stop; killed", stopTimeout)
	}
	e.cmd = nil
}

// Start starts a stopped etcd again, with the same data and ports, and
// waits until it is healthy.
func (e *Etcd) Start() {
	e.t.Helper()
	if err := e.start(); err != nil {
		e.t.Fatalf("storetest: restart: %v", err)
	}
}

// start runs etcd and waits until it answers /health.
func (e *Etcd) start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd != nil {
		return nil
	}
	logPath := filepath.Join(e.dir, "etcd.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(e.bin, e.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	e.cmd, e.exited = cmd, exited
	deadline := time.Now().Add(startTimeout)
	for {
		if healthy(e.health, e.url) {
			return nil
		}
		select {
		case <-exited:
			e.cmd = nil
			return fmt.Errorf("etcd exited: %v\n%s", cmd.ProcessState, tail(logPath))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			e.cmd = nil
			return fmt.Errorf("etcd not healthy after %v\n%s", startTimeout, tail(logPath))
		}
	}
}

// kill ends etcd at once, at the end of the test.
func (e *Etcd) kill() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd != nil {
		e.cmd.Process.Kill()
		<-e.exited
		e.cmd = nil
	}
}

// healthClient goes straight to etcd, whatever proxy the environment
// names.
var healthClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// healthy asks etcd's /health, which says true once it has a leader.
func healthy(c *http.Client, url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"health":"true"`)
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// cleanEnv is the environment without ETCD_* variables, which etcd
// would read as flags.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD") {
			env = append(env, kv)
		}
	}
	return env
}

// tail is the end of etcd's log, for a failure message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
