package config

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // problems, in order; nil = success
	}{
		{"json routes", `[{"name":"a","upstream":"web","match":{"path_prefix":"/"}}]`, nil},
		{"yaml routes", "- name: a\n  respond: {status: 204}\n", nil},
		{"unknown field", `[{"name":"a","upstraem":"web"}]`, []string{`[0].upstraem: unknown field "upstraem" (line 1)`}},
		{"wrong type", "- name: a\n  match:\n    methods: GET\n", []string{"[0].match.methods: want a list"}},
		{"not a list", `{"name":"a"}`, []string{"want a list"}},
		{"empty", ``, []string{"empty document"}},
		{"two documents", "- name: a\n---\n- name: b\n", []string{"more than one YAML document"}},
		{"syntax", `[{"name": "a",]`, []string{"did not find expected node content"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs []Route
			err := DecodeStrict([]byte(tt.doc), "routes", &rs)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("DecodeStrict: %v", err)
				}
				if len(rs) != 1 || rs[0].Name != "a" {
					t.Fatalf("decoded %+v", rs)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("DecodeStrict = %v, want *Error", err)
			}
			if len(ce.Problems) != len(tt.want) {
				t.Fatalf("problems %q, want %q", ce.Problems, tt.want)
			}
			for i, w := range tt.want {
				if got := ce.Problems[i].Error(); !strings.Contains(got, w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, w)
				}
			}
		})
	}
	if err := DecodeStrict([]byte("a: 1"), "x", Route{}); err == nil || !strings.Contains(err.Error(), "non-nil pointer") {
		t.Errorf("DecodeStrict(non-pointer) = %v", err)
	}
}

func TestValidateTenant(t *testing.T) {
	good := Tenant{
		Name:      "acme",
		Domains:   []string{"acme.example"},
		Upstreams: []Upstream{{Name: "web", Endpoints: []string{"127.0.0.1:8080"}}},
		Routes:    []Route{{Upstream: "web", Match: Match{Domains: []string{"acme.example"}}}},
	}
	if err := ValidateTenant(&good); err != nil {
		t.Fatalf("ValidateTenant(good) = %v", err)
	}
	bad := good
	bad.Routes = []Route{
		{Upstream: "api"},
		{Upstream: "web", Match: Match{Domains: []string{"other.example"}}},
	}
	bad.Upstreams = append(bad.Upstreams, Upstream{Name: "web"})
	err := ValidateTenant(&bad)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("ValidateTenant(bad) = %v, want *Error", err)
	}
	want := []string{
		`upstreams[1].name: pool "web" is already defined at upstreams[0]`,
		`upstreams[1].endpoints: at least one endpoint is required`,
		`routes[0].upstream: pool "api" is not defined`,
		`routes[1].match.domains[0]:`,
	}
	if len(ce.Problems) != len(want) {
		t.Fatalf("problems:\n%v\nwant %d", err, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(ce.Problems[i].Error(), w) {
			t.Errorf("problem %d = %q, want prefix %q", i, ce.Problems[i], w)
		}
	}
}

func TestValidateStore(t *testing.T) {
	tests := []struct {
		s    Store
		want string // "" = valid
	}{
		{Store{}, ""},
		{Store{Type: StoreEmbedded, Path: "/tmp/x.db"}, ""},
		{Store{Type: StoreEtcd, Endpoints: []string{"127.0.0.1:2379", "http://[::1]:2379", "https://etcd.example:2379"}, Prefix: "/pop/"}, ""},
		{Store{Type: "consul"}, `store.type: "consul" is not a store type; want embedded or etcd`},
		{Store{Type: StoreEtcd}, "store.endpoints: at least one etcd endpoint is required"},
		{Store{Type: StoreEtcd, Endpoints: []string{"etcd"}}, "store.endpoints[0]:"},
		{Store{Type: StoreEtcd, Endpoints: []string{"e:1"}, Prefix: "wedge"}, `store.prefix: "wedge" must start and end with /`},
		{Store{Type: StoreEtcd, Endpoints: []string{"e:1"}, Path: "x"}, "store.path: is for type embedded"},
		{Store{Endpoints: []string{"e:1"}}, "store: endpoints, prefix and username are for type etcd"},
		{Store{DialTimeout: -1}, "store.dial_timeout: must not be negative"},
	}
	for _, tt := range tests {
		var ps problems
		tt.s.validate(&ps)
		switch {
		case tt.want == "" && len(ps) > 0:
			t.Errorf("%+v: %v", tt.s, ps[0])
		case tt.want != "" && (len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), tt.want)):
			t.Errorf("%+v: problems %v, want one starting %q", tt.s, ps, tt.want)
		}
	}
}

func TestValidateTenantLimits(t *testing.T) {
	tests := []struct {
		l    TenantLimits
		want []string // problems, in order; nil = valid
	}{
		{TenantLimits{}, nil},
		{TenantLimits{FilterMaxMemoryBytes: 1 << 20, FilterCallDeadline: Duration(time.Millisecond), RequestRate: 0.5, RequestBurst: 3}, nil},
		{TenantLimits{FilterMaxMemoryBytes: 4 << 30}, nil},
		{TenantLimits{RequestRate: minRequestRate}, nil},
		{TenantLimits{RequestRate: maxRequestRate, RequestBurst: maxRequestBurst}, nil},
		{TenantLimits{FilterMaxMemoryBytes: -1}, []string{"limits.filter_max_memory_bytes: -1: want 0 (no cap) to 4 GiB"}},
		{TenantLimits{FilterMaxMemoryBytes: 4<<30 + 1}, []string{"limits.filter_max_memory_bytes: 4294967297: want 0 (no cap) to 4 GiB"}},
		{TenantLimits{FilterCallDeadline: -1}, []string{"limits.filter_call_deadline: must not be negative"}},
		{TenantLimits{RequestRate: math.NaN()}, []string{"limits.request_rate: NaN is not a number of requests per second"}},
		{TenantLimits{RequestRate: math.Inf(1)}, []string{"limits.request_rate: +Inf is not a number of requests per second"}},
		{TenantLimits{RequestRate: math.Inf(-1)}, []string{"limits.request_rate: -Inf is not a number of requests per second"}},
		{TenantLimits{RequestRate: -1}, []string{"limits.request_rate: -1: want 0 (no limit) or 0.001 to 1000000 requests per second"}},
		{TenantLimits{RequestRate: 0.0009}, []string{"limits.request_rate: 0.0009: want 0 (no limit) or 0.001 to 1000000 requests per second"}},
		{TenantLimits{RequestRate: 1e6 + 1}, []string{"limits.request_rate: 1.000001e+06: want 0 (no limit) or 0.001 to 1000000 requests per second"}},
		{TenantLimits{RequestRate: 1, RequestBurst: -1}, []string{"limits.request_burst: -1: want 0 (default) to 1000000"}},
		{TenantLimits{RequestRate: 1, RequestBurst: maxRequestBurst + 1}, []string{"limits.request_burst: 1000001: want 0 (default) to 1000000"}},
		{TenantLimits{RequestBurst: 5}, []string{"limits.request_burst: needs request_rate"}},
		{TenantLimits{FilterMaxMemoryBytes: -1, FilterCallDeadline: -1, RequestRate: math.NaN(), RequestBurst: -1}, []string{
			"limits.filter_max_memory_bytes: -1: want 0 (no cap) to 4 GiB",
			"limits.filter_call_deadline: must not be negative",
			"limits.request_rate: NaN is not a number of requests per second",
			"limits.request_burst: -1: want 0 (default) to 1000000",
		}},
	}
	for _, tt := range tests {
		tn := Tenant{Name: "acme", Limits: tt.l}
		before := tn
		err := ValidateTenant(&tn)
		if !reflect.DeepEqual(tn, before) && !math.IsNaN(tt.l.RequestRate) {
			t.Errorf("%+v: ValidateTenant changed the tenant to %+v", tt.l, tn)
		}
		var got []string
		var ce *Error
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				got = append(got, p.Error())
			}
		} else if err != nil {
			t.Fatalf("%+v: ValidateTenant = %v, want a *config.Error", tt.l, err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%+v: problems\n%s\nwant\n%s", tt.l, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
		// In a whole Config the same problems carry the tenant's path.
		c := Config{Listeners: []Listener{{Address: ":80"}}, Tenants: []Tenant{tn}}
		err = c.Validate()
		if tt.want == nil {
			if err != nil {
				t.Errorf("%+v: Config.Validate = %v", tt.l, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), "tenants[0]."+tt.want[0]) {
			t.Errorf("%+v: Config.Validate = %v, want it to contain tenants[0].%s", tt.l, err, tt.want[0])
		}
	}
}
