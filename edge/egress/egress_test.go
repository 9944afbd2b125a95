package egress

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in     string
		prefix string
		lo, hi uint16
	}{
		{"10.0.0.0/8", "10.0.0.0/8", 0, 65535},
		{"10.1.2.3/8", "10.0.0.0/8", 0, 65535}, // masked
		{"192.0.2.7", "192.0.2.7/32", 0, 65535},
		{"192.0.2.7:443", "192.0.2.7/32", 443, 443},
		{"10.0.0.0/8:8000-8999", "10.0.0.0/8", 8000, 8999},
		{"2001:db8::/32", "2001:db8::/32", 0, 65535},
		{"::1", "::1/128", 0, 65535},
		{"[::1]:8080", "::1/128", 8080, 8080},
		{"[2001:db8::/32]:443", "2001:db8::/32", 443, 443},
		{"fd00::/8:443-444", "fd00::/8", 443, 444},
		{"[2001:db8::1]", "2001:db8::1/128", 0, 65535},
		{"::ffff:127.0.0.1", "127.0.0.1/32", 0, 65535},
		{"[::ffff:127.0.0.1]:80", "127.0.0.1/32", 80, 80},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", 0, 65535},
		{"0.0.0.0/0:25", "0.0.0.0/0", 25, 25},
		{"127.0.0.1:1-65535", "127.0.0.1/32", 1, 65535},
	} {
		r, err := ParseRule(tc.in)
		if err != nil {
			t.Errorf("ParseRule(%q): %v", tc.in, err)
			continue
		}
		if r.Prefix.String() != tc.prefix || r.Lo != tc.lo || r.Hi != tc.hi {
			t.Errorf("ParseRule(%q) = %s ports %d-%d, want %s ports %d-%d", tc.in, r.Prefix, r.Lo, r.Hi, tc.prefix, tc.lo, tc.hi)
		}
		if r.String() != tc.in {
			t.Errorf("ParseRule(%q).String() = %q", tc.in, r.String())
		}
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"", `"" is not an IP address or CIDR`},
		{"localhost", `"localhost" is not an IP address or CIDR`},
		{"localhost:80", `"localhost" is not an IP address or CIDR`},
		{"10.0.0.0/33", `"10.0.0.0/33" is not a CIDR`},
		{"10.0.0.1:0", `port "0" is not a number from 1 to 65535`},
		{"10.0.0.1:65536", `port "65536" is not a number from 1 to 65535`},
		{"10.0.0.1:+80", `port "+80" is not a number from 1 to 65535`},
		{"10.0.0.1:", `empty port after ':'`},
		{"10.0.0.0/8:", `empty port after ':'`},
		{"10.0.0.1:90-80", `port range 90-80: 80 is below 90`},
		{"10.0.0.1:80-", `port "" is not a number from 1 to 65535`},
		{"[::1", `missing ]`},
		{"[::1]80", `want [address]:port after the bracket`},
		{"[::1]:", `want [address]:port after the bracket`},
		{"::1:80:x", `"::1:80:x" is not an IP address or CIDR`},
		{"fe80::1%eth0", `an address with a zone is not supported`},
	} {
		_, err := ParseRule(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseRule(%q) = %v, want an error containing %q", tc.in, err, tc.msg)
		}
	}
}

func rules(t *testing.T, ss ...string) []Rule {
	t.Helper()
	var rs []Rule
	for _, s := range ss {
		r, err := ParseRule(s)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

func TestCheck(t *testing.T) {
	own := []Endpoint{
		{netip.MustParseAddrPort("127.0.0.1:9900"), "the node's admin API"},
		{netip.MustParseAddrPort("10.9.0.5:2379"), "the node's store (etcd)"},
		{netip.MustParseAddrPort("[2001:db8::5]:2379"), "the node's store (etcd)"},
	}
	def := New(Config{Own: own})
	loopback := New(Config{Own: own, Allow: rules(t, "127.0.0.0/8", "::1")})
	narrow := New(Config{Own: own,
		Allow: rules(t, "127.0.0.1:8080", "10.0.0.0/8:80-443", "0.0.0.0/0", "::/0"),
		Deny:  rules(t, "10.1.0.0/16", "0.0.0.0/0:25", "[2001:db8::/32]:22")})
	exact := New(Config{Own: own, Allow: rules(t, "127.0.0.1:9900", "10.9.0.5", "10.9.0.0/16:2379")})
	only := New(Config{OtherwiseDeny: true, Allow: rules(t, "192.0.2.0/24:443", "[2001:db8::1]:443")})
	for _, tc := range []struct {
		name   string
		p      *Policy
		addr   string
		reason string // "" = allowed
	}{
		{"public v4", def, "93.184.216.34:80", ""},
		{"public v6", def, "[2606:2800:220:1::1]:443", ""},
		{"private v4 is not denied by default", def, "10.0.0.1:80", ""},
		{"loopback", def, "127.0.0.1:8080", "loopback"},
		{"loopback other", def, "127.255.0.9:1", "loopback"},
		{"loopback v6", def, "[::1]:8080", "loopback"},
		{"loopback mapped", def, "[::ffff:127.0.0.1]:8080", "loopback"},
		{"metadata", def, "169.254.169.254:80", "link-local"},
		{"metadata mapped", def, "[::ffff:169.254.169.254]:80", "link-local"},
		{"link-local v6", def, "[fe80::1]:80", "link-local"},
		{"link-local v6 with zone", def, "[fe80::1%eth0]:80", "link-local"},
		{"unspecified", def, "0.0.0.0:80", "unspecified"},
		{"this network", def, "0.1.2.3:80", "unspecified"},
		{"unspecified v6", def, "[::]:80", "unspecified"},
		{"multicast", def, "224.0.0.1:80", "multicast"},
		{"multicast v6", def, "[ff02::1]:80", "multicast"},
		{"broadcast", def, "255.255.255.255:80", "broadcast"},
		{"aws metadata v6", def, "[fd00:ec2::254]:80", "cloud metadata"},
		{"alibaba metadata", def, "100.100.100.200:80", "cloud metadata"},
		{"cgnat neighbour", def, "100.100.100.201:80", ""},
		{"own admin", def, "127.0.0.1:9900", "the node's admin API"},
		{"own store", def, "10.9.0.5:2379", "the node's store (etcd)"},
		{"own store mapped", def, "[::ffff:10.9.0.5]:2379", "the node's store (etcd)"},
		{"own store v6", def, "[2001:db8::5]:2379", "the node's store (etcd)"},
		{"own store other port", def, "10.9.0.5:2380", ""},

		{"loopback allowed", loopback, "127.0.0.1:8080", ""},
		{"loopback v6 allowed", loopback, "[::1]:8080", ""},
		{"loopback mapped allowed", loopback, "[::ffff:127.0.0.1]:8080", ""},
		{"loopback allow is not an admin allow", loopback, "127.0.0.1:9900", "the node's admin API"},
		{"loopback allow leaves metadata", loopback, "169.254.169.254:80", "link-local"},

		{"allowed port on loopback", narrow, "127.0.0.1:8080", ""},
		{"other port on loopback", narrow, "127.0.0.1:8081", "loopback"},
		{"0.0.0.0/0 does not re-allow loopback", narrow, "127.0.0.2:80", "loopback"},
		{"::/0 does not re-allow loopback", narrow, "[::1]:80", "loopback"},
		{"::/0 does not re-allow link-local", narrow, "[fe80::1]:80", "link-local"},
		{"deny wins over allow", narrow, "10.1.2.3:80", "egress.deny 10.1.0.0/16"},
		{"deny a port everywhere", narrow, "93.184.216.34:25", "egress.deny 0.0.0.0/0:25"},
		{"deny a port mapped", narrow, "[::ffff:93.184.216.34]:25", "egress.deny 0.0.0.0/0:25"},
		{"deny v4 port leaves v6", narrow, "[2606:2800:220:1::1]:25", ""},
		{"deny v6 port", narrow, "[2001:db8::9]:22", "egress.deny [2001:db8::/32]:22"},
		{"deny wins over re-allow", New(Config{Allow: rules(t, "127.0.0.1"), Deny: rules(t, "127.0.0.1:22")}), "127.0.0.1:22", "egress.deny 127.0.0.1:22"},
		{"deny wins over exact own", New(Config{Own: own, Allow: rules(t, "127.0.0.1:9900"), Deny: rules(t, "127.0.0.0/8")}), "127.0.0.1:9900", "egress.deny 127.0.0.0/8"},

		{"own admin allowed exactly", exact, "127.0.0.1:9900", ""},
		{"exact admin allow re-allows nothing else on loopback", exact, "127.0.0.1:9901", "loopback"},
		// exact allows 10.9.0.5 (any port) and 10.9.0.0/16:2379: neither
		// is the exact address and port.
		{"neither the address alone nor a prefix with the port is exact", exact, "10.9.0.5:2379", "the node's store (etcd)"},
		{"the address alone allows its other ports", exact, "10.9.0.5:2380", ""},
		{"other store member refused", exact, "[2001:db8::5]:2379", "the node's store (etcd)"},

		{"allow list only: listed", only, "192.0.2.7:443", ""},
		{"allow list only: listed v6", only, "[2001:db8::1]:443", ""},
		{"allow list only: other port", only, "192.0.2.7:80", "not in egress.allow"},
		{"allow list only: other address", only, "198.51.100.1:443", "not in egress.allow"},
		{"allow list only: loopback is still loopback", only, "127.0.0.1:443", "loopback"},

		{"nil allows all", nil, "127.0.0.1:9900", ""},
	} {
		reason, ok := tc.p.Check(netip.MustParseAddrPort(tc.addr))
		if ok != (tc.reason == "") || reason != tc.reason {
			t.Errorf("%s: Check(%s) = %q, %v; want %q", tc.name, tc.addr, reason, ok, tc.reason)
		}
	}
}

func TestCheckLiteral(t *testing.T) {
	p := New(Config{Own: []Endpoint{{netip.MustParseAddrPort("127.0.0.1:9900"), "the node's admin API"}}})
	for _, tc := range []struct{ ep, err string }{
		{"127.0.0.1:9900", "127.0.0.1:9900 is refused by the node's egress policy (the node's admin API)"},
		{"169.254.169.254:80", "169.254.169.254:80 is refused by the node's egress policy (link-local)"},
		{"[::1]:80", "[::1]:80 is refused by the node's egress policy (loopback)"},
		{"localhost:80", ""}, // a name: checked when dialled
		{"93.184.216.34:80", ""},
	} {
		err := p.CheckLiteral(tc.ep)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.err {
			t.Errorf("CheckLiteral(%q) = %q, want %q", tc.ep, got, tc.err)
		}
	}
}

// The check runs on every dial: it allocates nothing, refused or not.
func TestCheckDoesNotAllocate(t *testing.T) {
	p := New(Config{Allow: rules(t, "127.0.0.1:8080", "10.0.0.0/8"), Deny: rules(t, "10.1.0.0/16", "0.0.0.0/0:25"),
		Own: []Endpoint{{netip.MustParseAddrPort("127.0.0.1:9900"), "the node's admin API"}}})
	for _, a := range []string{"93.184.216.34:80", "127.0.0.1:8080", "127.0.0.1:9900", "[fe80::1%eth0]:80", "10.1.0.1:80", "[::ffff:127.0.0.1]:80"} {
		ap := netip.MustParseAddrPort(a)
		if n := testing.AllocsPerRun(100, func() { p.Check(ap) }); n != 0 {
			t.Errorf("Check(%s): %v allocations, want 0", a, n)
		}
	}
}
