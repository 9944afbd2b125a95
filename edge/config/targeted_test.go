package config

import (
	"errors"
	"testing"
)

// cache.targeted_field (issue 17 item 3): the node's own RFC 9213 field,
// a header name other than Cache-Control and CDN-Cache-Control.
func TestCacheTargetedField(t *testing.T) {
	tests := []struct {
		field string
		want  string // the problem, "" for none
	}{
		{"", ""},
		{"Wedge-Cache-Control", ""},
		{"Bad Name", `cache.targeted_field: "Bad Name" is not a valid header name`},
		{"cache-control", `cache.targeted_field: "cache-control" must be the node's own field, not a standard one`},
		{"CDN-Cache-Control", `cache.targeted_field: "CDN-Cache-Control" must be the node's own field, not a standard one`},
	}
	for _, tt := range tests {
		c := goConfig(false)
		c.Cache.TargetedField = tt.field
		err := c.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.field, err)
			}
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Error() != tt.want {
			t.Errorf("%q: %v, want %s", tt.field, err, tt.want)
		}
	}
	doc := `
listeners: [{name: plain, address: ":8080"}]
cache:
  targeted_field: Wedge-Cache-Control
tenants:
  - name: acme
    domains: [acme.example]
    upstreams: [{name: web, endpoints: ["192.0.2.1:9000"]}]
    routes:
      - upstream: web
        cache: {enabled: true, forward_targeted: true}
`
	c, err := Parse([]byte(doc), "t.yaml", ".")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Cache.TargetedField != "Wedge-Cache-Control" || !c.Tenants[0].Routes[0].Cache.ForwardTargeted {
		t.Fatalf("parsed %q, forward_targeted %v", c.Cache.TargetedField, c.Tenants[0].Routes[0].Cache.ForwardTargeted)
	}
}
