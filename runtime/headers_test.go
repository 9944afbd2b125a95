package runtime

import (
	"slices"
	"strings"
	"testing"
)

// rotatingMap is a HeaderMap whose Range starts one pair further on each
// call, as a map over a Go map (the edge's http.Header) may: the pairs are
// the same, their order is not.
type rotatingMap struct {
	Pairs
	calls int
}

func (m *rotatingMap) Range(fn func(k, v string) bool) {
	n := len(m.Pairs)
	start := m.calls % max(n, 1)
	m.calls++
	for i := range n {
		kv := m.Pairs[(start+i)%n]
		if !fn(kv[0], kv[1]) {
			return
		}
	}
}

// TestSerializeMapUnstableOrder is the regression test for
// proxy_get_header_map_pairs returning a malformed map (the SDK's
// SERIALIZATION_FAILURE) for most requests with two or more header names:
// serializeMap wrote the sizes in one Range and the data in another, and
// the edge's request map ranges over an http.Header in Go's random map
// order.
func TestSerializeMapUnstableOrder(t *testing.T) {
	m := &rotatingMap{Pairs: Pairs{{":path", "/"}, {"authorization", "Bearer x"}, {"cookie", "a=1"}, {"x-long-header-name", ""}}}
	n, count := serializedSize(m)
	b := serializeMap(nil, m, count)
	if len(b) != n {
		t.Errorf("serialized %d bytes, size said %d", len(b), n)
	}
	var got Pairs
	if err := parseMap(b, func(k, v string) { got = append(got, [2]string{k, v}) }); err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := slices.Clone(m.Pairs)
	cmp := func(a, b [2]string) int {
		if a[0] != b[0] {
			return strings.Compare(a[0], b[0])
		}
		return strings.Compare(a[1], b[1])
	}
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestParseMapShortSizeTable is the regression test for parseMap (and
// every host function that decodes a guest's map) panicking on a map
// whose count leaves no room for its size table: it checked 10 bytes a
// pair but not the 4 of the count, so a 10-byte map of one pair read its
// sizes past the end. The panic was recovered as INTERNAL_FAILURE with a
// "Wedge bug" log; now it is a malformed map.
func TestParseMapShortSizeTable(t *testing.T) {
	for _, b := range [][]byte{
		{1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		if err := parseMap(b, func(k, v string) {}); err == nil {
			t.Errorf("parseMap(% x) accepted it", b)
		}
		if _, _, ok := mapStats(b); ok {
			t.Errorf("mapStats(% x) accepted it", b)
		}
	}
	// The smallest valid one-pair map: 4 + 8 + two NULs.
	b := []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	n := 0
	if err := parseMap(b, func(k, v string) { n++ }); err != nil || n != 1 {
		t.Errorf("parseMap(% x) = %v with %d pairs, want one empty pair", b, err, n)
	}
	if pairs, bytes, ok := mapStats(b); !ok || pairs != 1 || bytes != 0 {
		t.Errorf("mapStats(% x) = %d, %d, %v", b, pairs, bytes, ok)
	}
}
