package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/wedgeproxy/wedge/edge/config"
	"github.com/wedgeproxy/wedge/edge/egress"
)

func mustRules(t *testing.T, ss ...string) []egress.Rule {
	t.Helper()
	var rs []egress.Rule
	for _, s := range ss {
		r, err := egress.ParseRule(s)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

func forwardGet(p *Pool) (*http.Response, string, error) {
	req, _ := http.NewRequest("GET", "http://upstream/", nil)
	return p.Forward(context.Background(), req, testTimeouts)
}

// A name passes the write-time check (it is not a literal address) and
// is checked on the address it resolves to when dialled: "localhost"
// resolves to 127.0.0.1, which the default policy refuses. Nothing
// connects to the origin.
func TestEgressRefusesANameResolvingToLoopback(t *testing.T) {
	srv, cl := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	ep := "localhost:" + port
	pol := egress.New(egress.Config{})
	if err := pol.CheckLiteral(ep); err != nil {
		t.Fatalf("CheckLiteral(%q) = %v, want nil (a name is checked when dialled)", ep, err)
	}
	p := NewPool("acme", &config.Upstream{Name: "web", Endpoints: []string{ep}}, pol, 0)
	defer p.Close()
	resp, got, err := forwardGet(p)
	if resp != nil {
		resp.Body.Close()
	}
	if !errors.Is(err, ErrEgressRefused) {
		t.Fatalf("Forward = %v, want ErrEgressRefused", err)
	}
	var ee *EgressError
	if !errors.As(err, &ee) || ee.Addr != "127.0.0.1:"+port || ee.Reason != "loopback" {
		t.Fatalf("err = %#v, want an *EgressError for 127.0.0.1:%s, loopback", err, port)
	}
	if want := "upstream: 127.0.0.1:" + port + " is refused by the node's egress policy (loopback)"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	var op *net.OpError
	if errors.As(err, &op) {
		t.Errorf("err is a *net.OpError (%v): a refusal must not read as a connection failure", op)
	}
	if got != ep {
		t.Errorf("endpoint = %q, want %q", got, ep)
	}
	if n := cl.n.Load(); n != 0 {
		t.Errorf("the origin accepted %d connections, want 0", n)
	}
}

// The operator's allow entry inside loopback re-allows it.
func TestEgressAllowsLoopbackWhenListed(t *testing.T) {
	srv, cl := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	pol := egress.New(egress.Config{Allow: mustRules(t, "127.0.0.0/8")})
	p := NewPool("acme", &config.Upstream{Name: "web", Endpoints: []string{"localhost:" + port}}, pol, 0)
	defer p.Close()
	resp, _, err := forwardGet(p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" {
		t.Fatalf("got %d %q, want 200 ok", resp.StatusCode, b)
	}
	if n := cl.n.Load(); n != 1 {
		t.Errorf("the origin accepted %d connections, want 1", n)
	}
}

// A refused endpoint is skipped like one that is down: the pool's
// other endpoint answers, and the refused one is marked down.
func TestEgressRefusedEndpointIsSkipped(t *testing.T) {
	refused, rcl := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	allowed, acl := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	pol := egress.New(egress.Config{Allow: mustRules(t, allowed.Listener.Addr().String())})
	p := NewPool("acme", &config.Upstream{Name: "web", Endpoints: []string{refused.Listener.Addr().String(), allowed.Listener.Addr().String()}}, pol, 0)
	defer p.Close()
	for i := range 2 {
		resp, ep, err := forwardGet(p)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if ep != allowed.Listener.Addr().String() {
			t.Fatalf("request %d answered by %s, want %s", i, ep, allowed.Listener.Addr())
		}
	}
	if p.endpoints[0].downUntil.Load() == 0 {
		t.Error("the refused endpoint is not marked down")
	}
	if n := rcl.n.Load(); n != 0 {
		t.Errorf("the refused origin accepted %d connections, want 0", n)
	}
	if n := acl.n.Load(); n != 1 {
		t.Errorf("the allowed origin accepted %d connections, want 1 (kept alive)", n)
	}
}

// The dial-time check allocates nothing for an allowed address.
func TestEgressControlDoesNotAllocate(t *testing.T) {
	c := newClient(4, 0)
	c.useEgress(egress.New(egress.Config{Deny: mustRules(t, "10.0.0.0/8", "0.0.0.0/0:25")}))
	for _, a := range []string{"93.184.216.34:80", "[2606:2800:220:1::1]:443"} {
		if n := testing.AllocsPerRun(100, func() {
			if err := c.control("tcp", a, nil); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("control(%s): %v allocations, want 0", a, n)
		}
	}
}
