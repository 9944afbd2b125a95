package config

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Bounds of a route's metadata.
const (
	// MaxRouteMetadataBytes bounds the keys and values of a route's
	// metadata together, in bytes (a number counts 8, a boolean 1).
	MaxRouteMetadataBytes = 64 << 10
	// MaxRouteMetadataDepth bounds how deep its mappings nest: the root
	// mapping is depth 1, so filter_metadata → envoy.filters.http.wasm →
	// auth is depth 3.
	MaxRouteMetadataDepth = 8
	// MaxRouteMetadataEntries bounds its keys, at every depth together.
	MaxRouteMetadataEntries = 1024
)

// RouteMetadata is a route's metadata: a mapping whose values are
// strings, numbers, booleans, nulls or mappings again, with at most
// MaxRouteMetadataEntries keys, MaxRouteMetadataBytes bytes and
// MaxRouteMetadataDepth levels. Keys are taken as written (a key written
// 200 is the string "200"). Lists, merge keys (<<) and non-finite
// numbers are refused. It mirrors Envoy's route metadata, which filters
// read as the route_metadata property, so it is usually written as
//
//	metadata:
//	  filter_metadata:
//	    envoy.filters.http.wasm:
//	      auth: cookie
//
// The zero RouteMetadata is no metadata. A RouteMetadata is immutable and
// safe for concurrent use.
type RouteMetadata struct {
	root *metaNode
}

// metaNode is a mapping (keys set, in the order written) or a leaf
// (value: string, float64, bool or nil).
type metaNode struct {
	keys  []string
	kids  map[string]*metaNode
	value any
	// bytes is the leaf's value as Lookup returns it.
	bytes []byte
}

func (n *metaNode) isMap() bool { return n.kids != nil }

// MetadataLookup is r.Metadata.Lookup(path).
func (r *Route) MetadataLookup(path []string) ([]byte, bool) { return r.Metadata.Lookup(path) }

// Lookup returns the value at path, each element a key of the mapping
// before it (path {"filter_metadata", "envoy.filters.http.wasm", "auth"}
// reads the example above), serialised as Envoy serialises property
// values:
//
//   - a string: its bytes;
//   - a number: 8 bytes, the IEEE 754 double, little-endian (Envoy keeps
//     metadata numbers as doubles: 3 reads as 3.0);
//   - a boolean: 1 byte, 1 or 0;
//   - null: no bytes;
//   - a mapping (an empty path is the root): Proxy-Wasm pairs, as
//     proxy_get_header_map_pairs returns them, of each key and its value
//     serialised by these rules. (Envoy answers route_metadata itself,
//     with no path, with the protobuf of its Metadata message instead.)
//
// It returns false when a key of path is absent, when path goes through
// a leaf, and when there is no metadata at all. The bytes of a leaf are
// shared: the caller must not modify them.
func (m RouteMetadata) Lookup(path []string) ([]byte, bool) {
	n := m.root
	if n == nil {
		return nil, false
	}
	for _, k := range path {
		if !n.isMap() {
			return nil, false
		}
		if n = n.kids[k]; n == nil {
			return nil, false
		}
	}
	if !n.isMap() {
		return n.bytes, true
	}
	return n.pairs(), true
}

// pairs serialises a mapping as Proxy-Wasm pairs: the count, each key's
// and value's sizes, then each key and value followed by a NUL, sizes
// little-endian u32.
func (n *metaNode) pairs() []byte {
	vals := make([][]byte, len(n.keys))
	size := 4
	for i, k := range n.keys {
		kid := n.kids[k]
		if kid.isMap() {
			vals[i] = kid.pairs()
		} else {
			vals[i] = kid.bytes
		}
		size += 8 + len(k) + 1 + len(vals[i]) + 1
	}
	out := make([]byte, 0, size)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(n.keys)))
	for i, k := range n.keys {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(k)))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(vals[i])))
	}
	for i, k := range n.keys {
		out = append(out, k...)
		out = append(out, 0)
		out = append(out, vals[i]...)
		out = append(out, 0)
	}
	return out
}

// IsZero reports whether there is no metadata (the route's metadata field
// is absent or null).
func (m RouteMetadata) IsZero() bool { return m.root == nil }

// Value returns the metadata as Go values: map[string]any for mappings,
// with string, float64, bool or nil leaves; nil when there is none.
func (m RouteMetadata) Value() any {
	if m.root == nil {
		return nil
	}
	return m.root.goValue()
}

func (n *metaNode) goValue() any {
	if !n.isMap() {
		return n.value
	}
	out := make(map[string]any, len(n.keys))
	for _, k := range n.keys {
		out[k] = n.kids[k].goValue()
	}
	return out
}

// MarshalYAML implements yaml.Marshaler.
func (m RouteMetadata) MarshalYAML() (any, error) { return m.Value(), nil }

// MarshalJSON implements json.Marshaler.
func (m RouteMetadata) MarshalJSON() ([]byte, error) { return json.Marshal(m.Value()) }

// ParseRouteMetadata reads metadata written in YAML or JSON, as the
// metadata field of a route is.
func ParseRouteMetadata(doc []byte) (RouteMetadata, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(doc, &n); err != nil {
		return RouteMetadata{}, err
	}
	var m RouteMetadata
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		if err := m.UnmarshalYAML(n.Content[0]); err != nil {
			return RouteMetadata{}, err
		}
	}
	return m, nil
}

// UnmarshalYAML implements yaml.Unmarshaler, checking the bounds. Each
// problem is one error line, with its line and the path of keys to it.
func (m *RouteMetadata) UnmarshalYAML(n *yaml.Node) error {
	b := metaBuilder{expanding: map[*yaml.Node]bool{}}
	root := b.node(n, "", 1)
	if len(b.errs) > 0 {
		return &yaml.TypeError{Errors: b.errs}
	}
	if root != nil && !root.isMap() {
		if root.value == nil {
			*m = RouteMetadata{}
			return nil
		}
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a mapping, got %s", n.Line, kindOf(n))}}
	}
	*m = RouteMetadata{root: root}
	return nil
}

type metaBuilder struct {
	errs      []string
	entries   int
	bytes     int
	over      bool // a bound was passed: stop
	expanding map[*yaml.Node]bool
}

func (b *metaBuilder) fail(line int, at, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if at != "" {
		msg = at + ": " + msg
	}
	b.errs = append(b.errs, fmt.Sprintf("line %d: %s", line, msg))
}

// spend counts n bytes and reports false (once) past the bound.
func (b *metaBuilder) spend(line int, at string, n int) bool {
	if b.over {
		return false
	}
	b.bytes += n
	if b.bytes > MaxRouteMetadataBytes {
		b.over = true
		b.fail(line, at, "metadata over %s (keys and values together)", sizeText(MaxRouteMetadataBytes))
		return false
	}
	return true
}

func metaPath(at, key string) string {
	if strings.ContainsAny(key, ".[]") || key == "" {
		key = fmt.Sprintf("[%q]", key)
		return at + key
	}
	if at == "" {
		return key
	}
	return at + "." + key
}

// node builds the value of n, at path at and depth depth (of mappings);
// nil after a problem.
func (b *metaBuilder) node(n *yaml.Node, at string, depth int) *metaNode {
	if b.over {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || b.expanding[n] {
			b.fail(n.Line, at, "alias *%s refers to a value that contains it", n.Value)
			return nil
		}
		b.expanding[n] = true
		defer delete(b.expanding, n)
		return b.node(n.Alias, at, depth)
	}
	switch n.Kind {
	case yaml.MappingNode:
		if depth > MaxRouteMetadataDepth {
			b.fail(n.Line, at, "mappings nested deeper than %d", MaxRouteMetadataDepth)
			return nil
		}
		out := &metaNode{kids: map[string]*metaNode{}}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				b.fail(k.Line, at, "want a name as key, got %s", kindOf(k))
				continue
			}
			if k.ShortTag() == "!!merge" {
				b.fail(k.Line, at, "merge keys (<<) are not supported in metadata")
				continue
			}
			p := metaPath(at, k.Value)
			if line, dup := seen[k.Value]; dup {
				b.fail(k.Line, p, "already set at line %d", line)
				continue
			}
			seen[k.Value] = k.Line
			if b.entries++; b.entries > MaxRouteMetadataEntries {
				b.over = true
				b.fail(k.Line, p, "metadata has more than %d keys", MaxRouteMetadataEntries)
				return nil
			}
			if !b.spend(k.Line, p, len(k.Value)) {
				return nil
			}
			kid := b.node(v, p, depth+1)
			if kid == nil {
				continue
			}
			out.keys = append(out.keys, k.Value)
			out.kids[k.Value] = kid
		}
		return out
	case yaml.SequenceNode:
		b.fail(n.Line, at, "a list: metadata values are strings, numbers, booleans, null or mappings")
		return nil
	case yaml.ScalarNode:
		return b.scalar(n, at)
	}
	b.fail(n.Line, at, "want a mapping, got %s", kindOf(n))
	return nil
}

func (b *metaBuilder) scalar(n *yaml.Node, at string) *metaNode {
	switch n.ShortTag() {
	case "!!null":
		return &metaNode{}
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			b.fail(n.Line, at, "%v", err)
			return nil
		}
		if !b.spend(n.Line, at, 1) {
			return nil
		}
		c := byte(0)
		if v {
			c = 1
		}
		return &metaNode{value: v, bytes: []byte{c}}
	case "!!int", "!!float":
		var v float64
		if err := n.Decode(&v); err != nil {
			b.fail(n.Line, at, "%s is not a number a double can hold", kindOf(n))
			return nil
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b.fail(n.Line, at, "%s: numbers must be finite", kindOf(n))
			return nil
		}
		if !b.spend(n.Line, at, 8) {
			return nil
		}
		return &metaNode{value: v, bytes: binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))}
	}
	// Strings, and any other tag (timestamps, binary…) as written.
	if !b.spend(n.Line, at, len(n.Value)) {
		return nil
	}
	return &metaNode{value: n.Value, bytes: []byte(n.Value)}
}
