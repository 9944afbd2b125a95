package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wedgeproxy/wedge/edge/egress"
)

// Egress is the node's egress policy (package edge/egress has the order
// in which a destination is decided). Every tenant follows it, the node
// file's tenants and those managed through the admin API alike.
//
// By default a tenant may reach any destination except loopback,
// link-local (cloud metadata), unspecified, multicast and broadcast
// addresses, and the node's own admin API and store members.
//
//	egress:
//	  allow: [127.0.0.1:9000]        # the origin on loopback
//	  deny: [10.20.0.0/16, "0.0.0.0/0:25"]
//	  otherwise: allow
type Egress struct {
	// Allow lists destinations allowed: CIDR, address, either with a
	// port or port range (10.0.0.0/8:8000-8999, [2001:db8::1]:443). An
	// entry inside a range denied by default re-allows that part of it;
	// only an entry naming exactly the address and port re-allows the
	// node's own admin API or a store member.
	Allow []string `yaml:"allow"`
	// Deny lists destinations refused, in the same form. Deny wins over
	// everything, allow entries included.
	Deny []string `yaml:"deny"`
	// Otherwise decides what no entry and no default decides: "allow"
	// (the default) or "deny" (only what Allow lists may be reached).
	Otherwise string `yaml:"otherwise"`
}

// Values of Egress.Otherwise.
const (
	EgressAllow = "allow"
	EgressDeny  = "deny"
)

func (e *Egress) validate(ps *problems) {
	for i, s := range e.Allow {
		if _, err := egress.ParseRule(s); err != nil {
			ps.add(fmt.Sprintf("egress.allow[%d]", i), "%v", err)
		}
	}
	for i, s := range e.Deny {
		if _, err := egress.ParseRule(s); err != nil {
			ps.add(fmt.Sprintf("egress.deny[%d]", i), "%v", err)
		}
	}
	switch e.Otherwise {
	case "", EgressAllow, EgressDeny:
	default:
		ps.add("egress.otherwise", "%q: want allow or deny", e.Otherwise)
	}
}

// EgressConfig is the node's egress policy as the file states it: its
// lists, and as its own endpoints the admin address and the store's etcd
// members when they are literal addresses. A node adds what it learns
// at start (the admin API's bound address, names resolved, the
// addresses of a wildcard bind). Entries that do not parse (Validate
// reports them) are left out.
func (c *Config) EgressConfig() egress.Config {
	var ec egress.Config
	for _, s := range c.Egress.Allow {
		if r, err := egress.ParseRule(s); err == nil {
			ec.Allow = append(ec.Allow, r)
		}
	}
	for _, s := range c.Egress.Deny {
		if r, err := egress.ParseRule(s); err == nil {
			ec.Deny = append(ec.Deny, r)
		}
	}
	ec.OtherwiseDeny = c.Egress.Otherwise == EgressDeny
	ec.Own = append(ec.Own, ownLiteral(c.Admin, OwnAdmin)...)
	if c.Store.Type == StoreEtcd {
		for _, e := range c.Store.Endpoints {
			ec.Own = append(ec.Own, ownLiteral(StoreHostPort(e), OwnStore)...)
		}
	}
	return ec
}

// ownLiteral is what the file alone says of one of the node's own
// endpoints, host:port: its address, when literal; loopback (both
// families) for localhost and for a wildcard address, which loopback
// reaches too. Nothing for port 0 or another name.
func ownLiteral(hostport, what string) []egress.Endpoint {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil || pn == 0 {
		return nil
	}
	a, err := netip.ParseAddr(host)
	switch {
	case err == nil && !a.IsUnspecified():
		return []egress.Endpoint{{Addr: netip.AddrPortFrom(a, uint16(pn)), What: what}}
	case err == nil || host == "" || strings.EqualFold(host, "localhost"):
		return []egress.Endpoint{
			{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(pn)), What: what},
			{Addr: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(pn)), What: what},
		}
	}
	return nil
}

// How the node's own endpoints are named in a refusal.
const (
	OwnAdmin = "the node's admin API"
	OwnStore = "the node's etcd store"
)

// StoreHostPort is an etcd endpoint without its scheme.
func StoreHostPort(e string) string {
	if rest, ok := strings.CutPrefix(e, "http://"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(e, "https://"); ok {
		return rest
	}
	return e
}

// CheckTenantEgress reports, with the path of each (relative to the
// tenant: upstreams[0].endpoints[1]), every endpoint of t that is a
// literal address p refuses. Names are left to the dial-time check. nil
// p allows everything.
func CheckTenantEgress(t *Tenant, p *egress.Policy) error {
	var ps problems
	checkTenantEgress(&ps, "", t, p)
	if len(ps) > 0 {
		return &Error{Problems: capProblems(ps)}
	}
	return nil
}

func checkTenantEgress(ps *problems, pre string, t *Tenant, p *egress.Policy) {
	for j, u := range t.Upstreams {
		for k, e := range u.Endpoints {
			if checkEndpoint(e) != nil {
				continue // reported by validation
			}
			if err := p.CheckLiteral(e); err != nil {
				ps.add(fmt.Sprintf("%supstreams[%d].endpoints[%d]", pre, j, k), "%v", err)
			}
		}
	}
}

// checkFileEgress checks the file's tenants against the file's egress
// policy. Parse runs it; Validate does not, since a node validates the
// store's tenants with it too, and a store tenant another node's policy
// accepted is served, its refused endpoints answering 502.
func (c *Config) checkFileEgress() []*FieldError {
	var ps problems
	p := egress.New(c.EgressConfig())
	for i := range c.Tenants {
		checkTenantEgress(&ps, fmt.Sprintf("tenants[%d].", i), &c.Tenants[i], p)
	}
	return ps
}
