package config

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestCheckDomain(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // "" for a valid domain
	}{
		{"example.com", ""},
		{"localhost", ""},
		{"Shop.Example.COM", ""},
		{"a-b.c-d.example", ""},
		{"xn--bcher-kva.example", ""},
		{"*.example.com", ""},
		{"*.com", ""},
		{"1.2.3.4", ""},
		{strings.Repeat("a", 63) + ".com", ""},
		{strings.Repeat("a.", 126) + "a", ""}, // 253 bytes
		{"*." + strings.Repeat("a.", 126) + "a", ""},
		{"", `"" is not a domain name`},
		{"*.", `"*." is not a domain name`},
		{"*", `"*": a wildcard is only allowed as the first label (*.example.com)`},
		{"api.*.example.com", `"api.*.example.com": a wildcard is only allowed as the first label (*.example.com)`},
		{"*.*.example.com", `"*.*.example.com": a wildcard is only allowed as the first label (*.example.com)`},
		{"*example.com", `"*example.com": a wildcard is only allowed as the first label (*.example.com)`},
		{"example.*", `"example.*": a wildcard is only allowed as the first label (*.example.com)`},
		{".example.com", `".example.com" is not a domain name`},
		{"example.com.", `"example.com." is not a domain name`},
		{"a..b", `"a..b" is not a domain name`},
		{"-a.com", `"-a.com" is not a domain name`},
		{"a-.com", `"a-.com" is not a domain name`},
		{"a_b.com", `"a_b.com" is not a domain name`},
		{"a b.com", `"a b.com" is not a domain name`},
		{"bücher.example", `"bücher.example" is not a domain name`},
		{"example.com:80", `"example.com:80" is not a domain name`},
		{strings.Repeat("a", 64) + ".com", `"` + strings.Repeat("a", 64) + `.com" is not a domain name`},
		{strings.Repeat("a.", 127), `"` + strings.Repeat("a.", 127) + `" is not a domain name`},
		{strings.Repeat("a.", 127) + "a", `"` + strings.Repeat("a.", 127) + `a" is not a domain name`}, // 255 bytes
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := CheckDomain(tt.in)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("CheckDomain(%q) = %v, want nil", tt.in, err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("CheckDomain(%q) = %v, want %s", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in      string
		want    string // the prefix, or the error text
		wantErr bool
	}{
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "10.1.2.3/8", want: "10.0.0.0/8"}, // masked
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "192.168.1.7", want: "192.168.1.7/32"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "2001:db8::1/32", want: "2001:db8::/32"},
		{in: "::1", want: "::1/128"},
		{in: "::ffff:10.0.0.1", want: "::ffff:10.0.0.1/128"},
		{in: "10.0.0.0/33", want: `"10.0.0.0/33" is not a CIDR`, wantErr: true},
		{in: "10.0.0.0/", want: `"10.0.0.0/" is not a CIDR`, wantErr: true},
		{in: "/8", want: `"/8" is not a CIDR`, wantErr: true},
		{in: "fe80::1%eth0/64", want: `"fe80::1%eth0/64" is not a CIDR`, wantErr: true},
		{in: "10.0.0", want: `"10.0.0" is not an IP address or CIDR`, wantErr: true},
		{in: "", want: `"" is not an IP address or CIDR`, wantErr: true},
		{in: "example.com", want: `"example.com" is not an IP address or CIDR`, wantErr: true},
		{in: " 10.0.0.1", want: `" 10.0.0.1" is not an IP address or CIDR`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePrefix(tt.in)
			if tt.wantErr {
				if err == nil || err.Error() != tt.want {
					t.Errorf("ParsePrefix(%q) = %v, %v; want error %s", tt.in, p, err, tt.want)
				}
				return
			}
			if err != nil || p != netip.MustParsePrefix(tt.want) {
				t.Errorf("ParsePrefix(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
			}
		})
	}
}

// goConfig builds, in Go, a configuration that exercises every part of the
// validator; broken makes it invalid in many places.
func goConfig(broken bool) *Config {
	c := &Config{
		Listeners: []Listener{
			{Name: "plain", Address: ":8080", TrustedProxies: []string{"10.0.0.0/8", "::1"}},
			{Name: "tls", Address: ":8443", TLS: &TLS{
				Certificates: []Certificate{{CertFile: "testdata/certs/cert.pem", KeyFile: "testdata/certs/key.pem"}},
			}},
		},
		Limits: Limits{MaxHeaderBytes: 1 << 10},
		Tenants: []Tenant{{
			Name:      "acme",
			Domains:   []string{"acme.example.com", "*.acme.example.com"},
			Upstreams: []Upstream{{Name: "api", Endpoints: []string{"10.0.0.1:80"}}},
			Routes: []Route{
				{Match: Match{PathPrefix: "/api/", Methods: []string{"GET"}, Headers: []HeaderMatch{{Name: "X-A"}}}, Upstream: "api"},
				{Match: Match{Domains: []string{"ACME.example.com"}}, Respond: &Respond{Status: 204, Headers: map[string]string{"X-B": "b"}}},
			},
		}},
	}
	if broken {
		c.Listeners[0].Address = "nope"
		c.Listeners[0].TrustedProxies[0] = "10.0.0.0/99"
		c.Listeners[1].TLS.Certificates[0].KeyFile = "testdata/certs/missing.pem"
		c.Limits.IdleTimeout = -1
		c.Tenants[0].Name = "ACME"
		c.Tenants[0].Domains = append(c.Tenants[0].Domains, "ACME.example.com")
		c.Tenants[0].Routes[0].Upstream = "web"
		c.Tenants[0].Routes[0].Match.Methods[0] = "get"
		c.Tenants[0].Routes[1].Respond.Status = 1000
		c.Tenants[0].Routes[1].Respond.Headers["Bad Name"] = "x"
		c.Tenants[0].Routes[1].Timeouts.Connect = -1
	}
	return c
}

// TestValidateDoesNotModify checks that Validate leaves its Config as it
// was, valid or not: it neither applies defaults nor resolves paths.
func TestValidateDoesNotModify(t *testing.T) {
	for _, broken := range []bool{false, true} {
		c, want := goConfig(broken), goConfig(broken)
		err := c.Validate()
		if (err != nil) != broken {
			t.Fatalf("broken=%v: Validate() = %v", broken, err)
		}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("broken=%v: Validate changed the config:\n got %+v\nwant %+v", broken, c, want)
		}
	}
}

func TestValidateReportsEverything(t *testing.T) {
	err := goConfig(true).Validate()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Validate() = %v, want a *config.Error", err)
	}
	want := []string{
		`listeners[0].address: "nope" is not host:port`,
		`listeners[0].trusted_proxies[0]: "10.0.0.0/99" is not a CIDR`,
		`listeners[1].tls.certificates[0]: cannot load the key pair: open testdata/certs/missing.pem: no such file or directory`,
		`limits.idle_timeout: must not be negative`,
		`tenants[0].name: "ACME" must be 1-63 lower-case letters, digits, '-' or '_'`,
		`tenants[0].domains[2]: domain "ACME.example.com" is already claimed at tenants[0].domains[0]`,
		`tenants[0].routes[0].upstream: pool "web" is not defined`,
		`tenants[0].routes[0].match.methods[0]: "get" is not an upper-case method name`,
		`tenants[0].routes[1].respond.status: 1000 is not a final status code (200-599)`,
		`tenants[0].routes[1].respond.headers[Bad Name]: "Bad Name" is not a valid header name`,
		`tenants[0].routes[1].timeouts.connect: must not be negative`,
	}
	var got []string
	for _, p := range ce.Problems {
		if p.Line != 0 {
			t.Errorf("%v: a Config built in Go has no lines", p)
		}
		got = append(got, p.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ce.File != "" {
		t.Errorf("File = %q, want none", ce.File)
	}
}
