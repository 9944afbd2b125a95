package config

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// decodeRoute decodes one route, written in YAML, as the admin API does.
func decodeRoute(t *testing.T, doc string) (Route, error) {
	t.Helper()
	var rs []Route
	err := DecodeStrict([]byte(doc), "routes", &rs)
	if err != nil {
		return Route{}, err
	}
	if len(rs) != 1 {
		t.Fatalf("decoded %d routes", len(rs))
	}
	return rs[0], nil
}

func f64bytes(v float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)) }

// TestRouteMetadataLookup reads the values of a route's metadata as the
// route_metadata property answers them: the upstream Go SDK's properties
// example reads filter_metadata → envoy.filters.http.wasm → auth.
func TestRouteMetadataLookup(t *testing.T) {
	r, err := decodeRoute(t, `
- name: a
  upstream: web
  metadata:
    filter_metadata:
      envoy.filters.http.wasm:
        auth: cookie
        port: 8080
        ratio: 0.5
        on: true
        off: false
        quoted: "8080"
        none: null
        200: numeric key
    other: {x: "y"}
`)
	if err != nil {
		t.Fatal(err)
	}
	ns := []string{"filter_metadata", "envoy.filters.http.wasm"}
	for _, tt := range []struct {
		path []string
		want []byte
	}{
		{append(ns, "auth"), []byte("cookie")},
		{append(ns, "port"), f64bytes(8080)},
		{append(ns, "ratio"), f64bytes(0.5)},
		{append(ns, "on"), []byte{1}},
		{append(ns, "off"), []byte{0}},
		{append(ns, "quoted"), []byte("8080")},
		{append(ns, "none"), nil},
		{append(ns, "200"), []byte("numeric key")},
		{[]string{"other", "x"}, []byte("y")},
		{[]string{"other"}, pairsOf("x", "y")},
	} {
		got, ok := r.MetadataLookup(tt.path)
		if !ok || string(got) != string(tt.want) {
			t.Errorf("MetadataLookup(%q) = %q, %v; want %q", tt.path, got, ok, tt.want)
		}
	}
	for _, path := range [][]string{
		{"nope"},
		append(ns, "missing"),
		append(ns, "auth", "deeper"), // through a leaf
		{"filter_metadata", "envoy.filters.http.wasm.auth"},
	} {
		if got, ok := r.MetadataLookup(path); ok {
			t.Errorf("MetadataLookup(%q) = %q, true; want absent", path, got)
		}
	}
	// The root is the pairs of its keys, in the order written, each
	// value serialised the same way.
	root, ok := r.MetadataLookup(nil)
	other, _ := r.MetadataLookup([]string{"other"})
	fm, _ := r.MetadataLookup([]string{"filter_metadata"})
	if want := pairsOf("filter_metadata", string(fm), "other", string(other)); !ok || string(root) != string(want) {
		t.Errorf("root = %q, want %q", root, want)
	}
	var none Route
	if _, ok := none.MetadataLookup(nil); ok {
		t.Error("a route without metadata answers a lookup")
	}
	if !none.Metadata.IsZero() || r.Metadata.IsZero() {
		t.Error("IsZero is wrong")
	}
	if err := ValidateTenant(&Tenant{Name: "acme", Upstreams: []Upstream{{Name: "web", Endpoints: []string{"a:1"}}}, Routes: []Route{r}}); err != nil {
		t.Fatalf("ValidateTenant: %v", err)
	}
}

// pairsOf encodes Proxy-Wasm pairs of key, value, key, value…
func pairsOf(kv ...string) []byte {
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(kv)/2))
	for _, s := range kv {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(s)))
	}
	for _, s := range kv {
		out = append(append(out, s...), 0)
	}
	return out
}

// TestRouteMetadataRoundTrip writes decoded metadata back as YAML and JSON
// and reads it again.
func TestRouteMetadataRoundTrip(t *testing.T) {
	m, err := ParseRouteMetadata([]byte(`{filter_metadata: {envoy.filters.http.wasm: {auth: cookie, n: 3, b: true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"filter_metadata": map[string]any{"envoy.filters.http.wasm": map[string]any{"auth": "cookie", "n": 3.0, "b": true}}}
	if !reflect.DeepEqual(m.Value(), want) {
		t.Fatalf("Value() = %#v", m.Value())
	}
	for _, enc := range []func(any) ([]byte, error){yaml.Marshal, func(v any) ([]byte, error) { return m.MarshalJSON() }} {
		b, err := enc(m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseRouteMetadata(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(again.Value(), want) {
			t.Errorf("%s read back as %#v", b, again.Value())
		}
	}
	// No metadata is left out of a written route.
	b, err := yaml.Marshal(Route{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "metadata") || strings.Contains(string(b), "vm_config") {
		t.Errorf("a route without metadata is written as\n%s", b)
	}
}

// TestRouteMetadataRefused checks the bounds and shapes metadata is held
// to; each problem names the route's metadata field and the keys to the
// bad value.
func TestRouteMetadataRefused(t *testing.T) {
	deep := "x"
	for range MaxRouteMetadataDepth + 1 {
		deep = "{k: " + deep + "}"
	}
	var many strings.Builder
	many.WriteString("{")
	for i := range MaxRouteMetadataEntries + 1 {
		fmt.Fprintf(&many, "k%d: 1, ", i)
	}
	many.WriteString("}")
	tests := []struct {
		name, meta string
		want       []string
	}{
		{"list", `{filter_metadata: {ns: {roles: [a, b]}}}`, []string{"[0].metadata: filter_metadata.ns.roles: a list"}},
		{"scalar root", `cookie`, []string{`[0].metadata: want a mapping, got "cookie"`}},
		{"list root", `[a]`, []string{"[0].metadata: a list"}},
		{"too deep", deep, []string{"[0].metadata: k.k.k.k.k.k.k.k: mappings nested deeper than 8"}},
		{"not too deep", strings.TrimSuffix(strings.TrimPrefix(deep, "{k: "), "}"), nil},
		{"too many keys", many.String(), []string{"[0].metadata: k1024: metadata has more than 1024 keys"}},
		{"too big", `{a: "` + strings.Repeat("x", MaxRouteMetadataBytes) + `"}`, []string{"[0].metadata: a: metadata over 64 KiB"}},
		{"not finite", `{a: .inf, b: .nan}`, []string{`[0].metadata: a: ".inf": numbers must be finite`, `[0].metadata: b: ".nan": numbers must be finite`}},
		{"duplicate key", "\n    a: 1\n    a: 2", []string{"[0].metadata: a: already set at line 4 (line 5)"}},
		{"mapping key", `{? {a: 1} : x}`, []string{"[0].metadata: want a name as key, got a mapping"}},
		{"merge", "\n    base: &b {x: 1}\n    ns:\n      <<: *b", []string{"[0].metadata: ns: merge keys (<<) are not supported"}},
		{"dotted key", `{ns: {"a.b": [1]}}`, []string{`[0].metadata: ns["a.b"]: a list`}},
		{"alias", "\n    a: &v {x: 1}\n    b: *v", nil},
		{"null", `null`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeRoute(t, "- name: a\n  upstream: web\n  metadata: "+tt.meta+"\n")
			var got []string
			var ce *Error
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					got = append(got, p.Error())
				}
			} else if err != nil {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestRouteFilterCount refuses a route with more than MaxRouteFilters
// filters, naming it, and accepts one with exactly that many.
func TestRouteFilterCount(t *testing.T) {
	tenant := func(n int) *Tenant {
		r := Route{Respond: &Respond{Status: 204}}
		for i := range n {
			r.Filters = append(r.Filters, Filter{Name: fmt.Sprintf("f%d", i), Module: "f.wasm", Limits: FilterLimits{Instances: 1, MaxMemoryBytes: 1 << 20}})
		}
		return &Tenant{Name: "acme", Routes: []Route{{Respond: &Respond{}}, r}}
	}
	if err := ValidateTenant(tenant(MaxRouteFilters)); err != nil {
		t.Fatalf("%d filters: %v", MaxRouteFilters, err)
	}
	err := ValidateTenant(tenant(MaxRouteFilters + 1))
	if err == nil || err.Error() != "config: routes[1].filters: 33 filters: a route may have at most 32" {
		t.Fatalf("%d filters: %v", MaxRouteFilters+1, err)
	}
	c := Config{Listeners: []Listener{{Address: ":80"}}, Tenants: []Tenant{*tenant(MaxRouteFilters + 1)}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "tenants[0].routes[1].filters: 33 filters") {
		t.Fatalf("Config.Validate = %v", err)
	}
}

// TestFilterVMConfig decodes vm_config as config is decoded and bounds
// both.
func TestFilterVMConfig(t *testing.T) {
	r, err := decodeRoute(t, `
- respond: {status: 204}
  filters:
    - name: a
      module: a.wasm
      vm_config: {engine: fast, n: 1}
    - name: b
      module: b.wasm
      vm_config: "as is"
      config: "plain"
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(r.Filters[0].VMConfig); got != `{"engine":"fast","n":1}` {
		t.Errorf("vm_config mapping = %q", got)
	}
	if got := string(r.Filters[1].VMConfig); got != "as is" {
		t.Errorf("vm_config string = %q", got)
	}
	if len(r.Filters[0].Config) != 0 {
		t.Errorf("config = %q, want empty", r.Filters[0].Config)
	}
	big := FilterConfig(strings.Repeat("x", MaxFilterConfigBytes+1))
	tn := &Tenant{Name: "acme", Routes: []Route{{Respond: &Respond{}, Filters: []Filter{
		{Name: "a", Module: "a.wasm", Config: big, VMConfig: big[:MaxFilterConfigBytes]},
		{Name: "b", Module: "b.wasm", VMConfig: big},
	}}}}
	var ce *Error
	if err := ValidateTenant(tn); !errors.As(err, &ce) || len(ce.Problems) != 2 ||
		ce.Problems[0].Error() != "routes[0].filters[0].config: 1048577 bytes: at most 1 MiB" ||
		ce.Problems[1].Error() != "routes[0].filters[1].vm_config: 1048577 bytes: at most 1 MiB" {
		t.Fatalf("ValidateTenant = %v", err)
	}
}
