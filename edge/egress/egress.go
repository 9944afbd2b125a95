// Package egress is a node's egress policy: the destination addresses
// and ports that tenants' traffic (upstream pools, filters' HTTP calls)
// may be dialled to.
//
// The policy is checked on the resolved address of every connection the
// node opens for a tenant (net.Dialer.Control), so a name that resolves,
// or rebinds after validation, to a refused address is refused too.
//
// A destination is decided in this order; the first step that decides
// wins:
//
//  1. An entry of the operator's deny list matches: refused.
//  2. It is one of the node's own endpoints (its admin API, its store's
//     members): refused, unless an allow entry names exactly that
//     address and that one port (a broad entry never re-allows it).
//  3. It is in a range denied by default (Defaults: loopback,
//     link-local, unspecified, multicast, broadcast, cloud metadata):
//     refused, unless an allow entry lies inside that range (127.0.0.1,
//     127.0.0.0/8 or 127.0.0.1:8080 re-allow loopback; 0.0.0.0/0 does
//     not).
//  4. An allow entry matches: allowed.
//  5. Otherwise: allowed, or refused when the policy is OtherwiseDeny
//     (an allow list only).
//
// A nil *Policy allows every destination: it is the library default, so
// that packages' tests with origins on loopback keep working. A node
// always builds one (see edge/node).
package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Rule is one entry of an allow or deny list: a prefix of addresses and
// an inclusive range of ports.
type Rule struct {
	// Prefix is the addresses; IPv4-mapped IPv6 prefixes are stored as
	// IPv4.
	Prefix netip.Prefix
	// Lo and Hi bound the ports, inclusive: 0 and 65535 for any port.
	Lo, Hi uint16
	// text is the entry as the operator wrote it, for reasons.
	text string
}

// AnyPort reports whether r matches every port.
func (r Rule) AnyPort() bool { return r.Lo == 0 && r.Hi == 65535 }

// String is the rule in the form ParseRule reads.
func (r Rule) String() string {
	if r.text != "" {
		return r.text
	}
	return r.format()
}

func (r Rule) format() string {
	var s string
	if r.Prefix.IsSingleIP() {
		s = r.Prefix.Addr().String()
	} else {
		s = r.Prefix.String()
	}
	if r.AnyPort() {
		return s
	}
	if r.Prefix.Addr().Is6() {
		s = "[" + s + "]"
	}
	if r.Lo == r.Hi {
		return s + ":" + strconv.Itoa(int(r.Lo))
	}
	return s + ":" + strconv.Itoa(int(r.Lo)) + "-" + strconv.Itoa(int(r.Hi))
}

// Matches reports whether r covers a (unmapped, without zone) and port.
func (r Rule) Matches(a netip.Addr, port uint16) bool {
	return port >= r.Lo && port <= r.Hi && r.Prefix.Contains(a)
}

// within reports whether every address of r is in p.
func (r Rule) within(p netip.Prefix) bool {
	return r.Prefix.Bits() >= p.Bits() && p.Contains(r.Prefix.Addr())
}

// ParseRule parses one entry of an allow or deny list:
//
//	10.0.0.0/8              a CIDR, any port
//	192.0.2.7               one address, any port
//	2001:db8::/32           an IPv6 CIDR, any port
//	192.0.2.7:443           one address, one port
//	10.0.0.0/8:8000-8999    a CIDR and a port range
//	[2001:db8::1]:443       IPv6 with a port: in brackets
//	[2001:db8::/32]:443     likewise for an IPv6 CIDR
//
// An IPv4-mapped IPv6 address or prefix (::ffff:127.0.0.1) is read as
// the IPv4 one it maps.
func ParseRule(s string) (Rule, error) {
	addr, ports := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return Rule{}, fmt.Errorf("%q: missing ]", s)
		}
		addr, ports = s[1:end], s[end+1:]
		if ports != "" {
			p, ok := strings.CutPrefix(ports, ":")
			if !ok || p == "" {
				return Rule{}, fmt.Errorf("%q: want [address]:port after the bracket", s)
			}
			ports = p
		}
	case strings.Contains(s, "/"):
		// The prefix length ends the address: a colon after it starts
		// the ports (fd00::/8:443 is unambiguous).
		slash := strings.IndexByte(s, '/')
		if c := strings.IndexByte(s[slash:], ':'); c >= 0 {
			addr, ports = s[:slash+c], s[slash+c+1:]
			if ports == "" {
				return Rule{}, fmt.Errorf("%q: empty port after ':'", s)
			}
		}
	case strings.Count(s, ":") == 1:
		// An IPv4 address with a port (an IPv6 address has several
		// colons; with a port it is written in brackets).
		c := strings.IndexByte(s, ':')
		addr, ports = s[:c], s[c+1:]
		if ports == "" {
			return Rule{}, fmt.Errorf("%q: empty port after ':'", s)
		}
	}
	var pfx netip.Prefix
	if strings.Contains(addr, "/") {
		p, err := netip.ParsePrefix(addr)
		if err != nil {
			return Rule{}, fmt.Errorf("%q: %q is not a CIDR", s, addr)
		}
		pfx = p.Masked()
	} else {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return Rule{}, fmt.Errorf("%q: %q is not an IP address or CIDR", s, addr)
		}
		if a.Zone() != "" {
			return Rule{}, fmt.Errorf("%q: an address with a zone is not supported", s)
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if pfx.Addr().Zone() != "" {
		return Rule{}, fmt.Errorf("%q: an address with a zone is not supported", s)
	}
	pfx = unmapPrefix(pfx)
	r := Rule{Prefix: pfx, Lo: 0, Hi: 65535, text: s}
	if ports != "" {
		lo, hi, err := parsePorts(ports)
		if err != nil {
			return Rule{}, fmt.Errorf("%q: %v", s, err)
		}
		r.Lo, r.Hi = lo, hi
	}
	return r, nil
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix of at least 96 bits into
// the IPv4 prefix it maps.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

func parsePorts(s string) (uint16, uint16, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := parsePort(lo)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return l, l, nil
	}
	h, err := parsePort(hi)
	if err != nil {
		return 0, 0, err
	}
	if h < l {
		return 0, 0, fmt.Errorf("port range %s: %d is below %d", s, h, l)
	}
	return l, h, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || s[0] == '+' {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return uint16(n), nil
}

// Reserved is a range of addresses the default policy refuses.
type Reserved struct {
	Prefix netip.Prefix
	// What names the range in a refusal ("loopback").
	What string
}

// Defaults are the ranges refused unless the operator allows them with an
// entry inside them.
var Defaults = []Reserved{
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	// Linux connects 0.0.0.0 and :: to the local host.
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
	// Cloud metadata services outside link-local: AWS's IPv6 one,
	// Alibaba Cloud's.
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	{netip.MustParsePrefix("100.100.100.200/32"), "cloud metadata"},
}

// Endpoint is one of the node's own endpoints, refused unless allowed by
// exact address and port.
type Endpoint struct {
	Addr netip.AddrPort
	// What names it in a refusal ("the node's admin API").
	What string
}

// Config is what a Policy is made from.
type Config struct {
	// Allow and Deny are the operator's lists.
	Allow, Deny []Rule
	// OtherwiseDeny refuses what no step allows (an allow list only).
	OtherwiseDeny bool
	// Own are the node's own endpoints (admin API, store members).
	Own []Endpoint
}

// Policy is a compiled egress policy. It is immutable; a nil *Policy
// allows everything.
type Policy struct {
	deny     []denyRule
	own      []ownEndpoint
	reserved []reserved
	allow    []Rule
	// otherwise is the reason for a refusal by step 5; "" allows.
	otherwise string
}

type denyRule struct {
	Rule
	reason string
}

type ownEndpoint struct {
	addr    netip.AddrPort
	reason  string
	allowed bool
}

type reserved struct {
	prefix  netip.Prefix
	reason  string
	reallow []Rule // allow entries inside the range
}

// New compiles c.
func New(c Config) *Policy {
	p := &Policy{allow: append([]Rule(nil), c.Allow...)}
	for _, r := range c.Deny {
		p.deny = append(p.deny, denyRule{r, "egress.deny " + r.String()})
	}
	seen := map[netip.AddrPort]bool{}
	for _, e := range c.Own {
		a := netip.AddrPortFrom(e.Addr.Addr().WithZone("").Unmap(), e.Addr.Port())
		if seen[a] {
			continue
		}
		seen[a] = true
		o := ownEndpoint{addr: a, reason: e.What}
		for _, r := range c.Allow {
			if r.Prefix.IsSingleIP() && r.Prefix.Addr() == a.Addr() && r.Lo == a.Port() && r.Hi == a.Port() {
				o.allowed = true
			}
		}
		p.own = append(p.own, o)
	}
	for _, d := range Defaults {
		rs := reserved{prefix: d.Prefix, reason: d.What}
		for _, r := range c.Allow {
			if r.within(d.Prefix) {
				rs.reallow = append(rs.reallow, r)
			}
		}
		p.reserved = append(p.reserved, rs)
	}
	if c.OtherwiseDeny {
		p.otherwise = "not in egress.allow"
	}
	return p
}

// Check reports whether a dial to ap is allowed and, when it is not, why
// ("loopback", "egress.deny 10.0.0.0/8", "the node's admin API"). A zone
// is ignored; an IPv4-mapped IPv6 address is checked as the IPv4 address
// it maps. It does not allocate.
func (p *Policy) Check(ap netip.AddrPort) (reason string, ok bool) {
	if p == nil {
		return "", true
	}
	a, port := ap.Addr().WithZone("").Unmap(), ap.Port()
	if !a.IsValid() {
		return "not an IP address", false
	}
	for i := range p.deny {
		if p.deny[i].Matches(a, port) {
			return p.deny[i].reason, false
		}
	}
	for i := range p.own {
		if o := &p.own[i]; o.addr.Addr() == a && o.addr.Port() == port && !o.allowed {
			return o.reason, false
		}
	}
	for i := range p.reserved {
		rs := &p.reserved[i]
		if !rs.prefix.Contains(a) {
			continue
		}
		for _, r := range rs.reallow {
			if r.Matches(a, port) {
				return "", true
			}
		}
		return rs.reason, false
	}
	for i := range p.allow {
		if p.allow[i].Matches(a, port) {
			return "", true
		}
	}
	if p.otherwise != "" {
		return p.otherwise, false
	}
	return "", true
}

// ErrRefused is the error of a destination the policy refuses.
var ErrRefused = errors.New("refused by the node's egress policy")

// CheckLiteral checks an endpoint written as host:port whose host is a
// literal IP address. It returns nil for a name, which is checked at
// dial time, and for an endpoint p allows; otherwise an error wrapping
// ErrRefused that names the reason.
func (p *Policy) CheckLiteral(hostport string) error {
	if p == nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return nil // a name, or not host:port (validated elsewhere)
	}
	if reason, ok := p.Check(ap); !ok {
		return fmt.Errorf("%s is %w (%s)", hostport, ErrRefused, reason)
	}
	return nil
}
